variable "name_prefix" {
  description = "Prefix of the alarms' names and name of the dashboard: `<project>-<stack>-<environment>`."
  type        = string
}

variable "region" {
  description = "Region of the metrics shown on the dashboard."
  type        = string
}

variable "dead_letter_queues" {
  description = "Label => name of each dead-letter queue; each gets an alarm as soon as it holds a message."
  type        = map(string)
  default     = {}
}

variable "functions" {
  description = "Label => name of each Lambda function; each gets an alarm on its Errors."
  type        = map(string)
  default     = {}
}

variable "custom_metrics" {
  description = "Application metrics shown on the dashboard (namespace and metric names), or null."
  type = object({
    namespace    = string
    metric_names = list(string)
  })
  default = null
}

variable "period_seconds" {
  description = "Period of the alarms' statistics, in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.period_seconds >= 60 && var.period_seconds % 60 == 0
    error_message = "The period is a multiple of 60 seconds."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires and when it recovers (an SNS topic, for example)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to the alarms (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
