variable "function_name" {
  description = "Name of the function: `<project>-<role>-<environment>`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.function_name))
    error_message = "A function name is letters, digits, '-' and '_', at most 59 characters (its role adds '-role')."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the zip holding the `bootstrap` executable (`make aws-package` builds it)."
  type        = string
}

variable "timeout" {
  description = "Seconds an invocation may run; below the visibility timeout of the queue it consumes."
  type        = number

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "A Lambda timeout is between 1 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "A Lambda memory size is between 128 and 10240 MB."
  }
}

variable "environment_variables" {
  description = "Environment of the function; EDALAB_FUNCTION (the role the one binary plays) is required."
  type        = map(string)

  validation {
    condition     = contains(keys(var.environment_variables), "EDALAB_FUNCTION")
    error_message = "environment_variables must set EDALAB_FUNCTION: the edalab-lambda binary serves the function it names."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the function's log group /aws/lambda/<name>."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "retention_in_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "sqs_trigger" {
  description = "The queue whose batches invoke the function (event source mapping, failures reported per item), or null. Its ARN also gets the consume permissions."
  type = object({
    queue_arn           = string
    batch_size          = number
    maximum_concurrency = number
  })
  default = null

  validation {
    condition     = var.sqs_trigger == null || try(var.sqs_trigger.batch_size >= 1 && var.sqs_trigger.batch_size <= 10000, false)
    error_message = "batch_size is between 1 and 10000."
  }

  validation {
    condition     = var.sqs_trigger == null || try(var.sqs_trigger.maximum_concurrency >= 2 && var.sqs_trigger.maximum_concurrency <= 1000, false)
    error_message = "maximum_concurrency is between 2 and 1000 (Lambda's limits for an SQS source)."
  }
}

variable "send_queue_arns" {
  description = "ARNs of the queues the function sends to (sqs:SendMessage, sqs:GetQueueUrl)."
  type        = list(string)
  default     = []
}

variable "dynamodb_table_arns" {
  description = "ARNs of the DynamoDB tables the function reads and writes (items only; no table management besides DescribeTable)."
  type        = list(string)
  default     = []
}

variable "read_object_arns" {
  description = "S3 object ARNs (patterns such as arn:aws:s3:::bucket/prefix/*) the function may read (s3:GetObject)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the function may put metrics in, or null for none."
  type        = string
  default     = null
}

variable "s3_invoke_bucket_arns" {
  description = "ARNs of the S3 buckets allowed to invoke the function (their notifications)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to the function, its role and its log group (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
