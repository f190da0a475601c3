variable "name" {
  description = "Name of the state machine: `<project>-transaction-workflow-<environment>`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,75}$", var.name))
    error_message = "The name is letters, digits, '-' and '_', at most 75 characters (its role adds '-role')."
  }
}

variable "definition_path" {
  description = "Path of the ASL definition; its `$${...}` placeholders are filled from task_arns."
  type        = string
}

variable "task_arns" {
  description = "Placeholder of the definition => ARN of the Lambda function of that task. The role may invoke exactly these."
  type        = map(string)

  validation {
    condition     = length(var.task_arns) > 0
    error_message = "A state machine of Lambda tasks needs at least one task ARN."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the executions' log group."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "retention_in_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_level" {
  description = "Which execution events are logged: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.log_level)
    error_message = "log_level is ALL, ERROR, FATAL or OFF."
  }
}

variable "tags" {
  description = "Tags added to the state machine, its role and its log group (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
