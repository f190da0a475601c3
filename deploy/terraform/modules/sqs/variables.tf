variable "name" {
  description = "Name of the queue (literal, no environment suffix: the seeds name their queues this way)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.name))
    error_message = "An SQS queue name is 1 to 80 characters among letters, digits, '-' and '_'."
  }
}

variable "visibility_timeout_seconds" {
  description = "Seconds a received message stays invisible; keep it above the consuming function's timeout."
  type        = number

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "The visibility timeout is between 0 and 43200 seconds."
  }
}

variable "message_retention_seconds" {
  description = "Seconds the queue keeps a message (345600 = 4 days)."
  type        = number

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "The retention is between 60 and 1209600 seconds."
  }
}

variable "dlq_name" {
  description = "Name of the dead-letter queue, or null for a queue without one (only for a queue nothing consumes)."
  type        = string
  default     = null

  validation {
    condition     = var.dlq_name == null || can(regex("^[A-Za-z0-9_-]{1,80}$", var.dlq_name))
    error_message = "A dead-letter queue name is 1 to 80 characters among letters, digits, '-' and '_'."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue (redrive policy maxReceiveCount)."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "maxReceiveCount is between 1 and 1000."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Seconds the dead-letter queue keeps a message (1209600 = 14 days, the most SQS allows)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "The retention is between 60 and 1209600 seconds."
  }
}

variable "consumed" {
  description = "Whether a function consumes the queue; written as tag edalab:consumed so that policies can require a dead-letter queue on consumed queues only."
  type        = bool
}

variable "tags" {
  description = "Tags added to both queues (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
