variable "project" {
  description = "Project name, the first part of every function, API and state machine name."
  type        = string
  default     = "edalab"
}

variable "environment" {
  description = "Environment: local (an emulator), dev, staging or prod. Last part of the names and the API's stage."
  type        = string

  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment is one of local, dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "use_localstack" {
  description = "Whether to talk to an emulator (ministack or LocalStack) at localstack_endpoint instead of AWS."
  type        = bool
  default     = true
}

variable "localstack_endpoint" {
  description = "URL of the emulator, used when use_localstack is true."
  type        = string
  default     = "http://localhost:4566"

  validation {
    condition     = can(regex("^https?://", var.localstack_endpoint))
    error_message = "localstack_endpoint is an http:// or https:// URL."
  }
}

variable "lambda_zip_path" {
  description = "The functions' zip (`make aws-package`), relative to the directory terraform runs in (this stack)."
  type        = string
  default     = "../../../../target/lambda/edalab-lambda/bootstrap.zip"
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the functions' logs."
  type        = number
  default     = 14
}

variable "point_in_time_recovery" {
  description = "Whether the DynamoDB tables keep continuous backups (point-in-time recovery)."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs the alarms notify (an SNS topic, for example); none by default."
  type        = list(string)
  default     = []
}

variable "force_destroy_buckets" {
  description = "Whether `terraform destroy` may delete the archive bucket with its objects (throwaway environments only)."
  type        = bool
  default     = false
}

variable "kafka_brokers" {
  description = "host:port list of the Kafka-protocol brokers S0's functions publish to (KAFKA_BROKERS)."
  type        = string

  validation {
    condition     = length(trimspace(var.kafka_brokers)) > 0
    error_message = "kafka_brokers names at least one broker (host:port)."
  }
}

variable "archive_bucket" {
  description = "Bucket of S0's archive (objects under archive/transactions/); bucket names are global on AWS."
  type        = string
  default     = "edalab-archive"
}

variable "workflow_log_level" {
  description = "Which executions of the transaction workflow are logged: ALL, ERROR, FATAL or OFF."
  type        = string
  default     = "ERROR"
}
