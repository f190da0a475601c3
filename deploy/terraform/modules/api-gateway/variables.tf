variable "api_name" {
  description = "Name of the REST API: `<project>-api-<environment>`."
  type        = string
}

variable "description" {
  description = "Description of the REST API."
  type        = string
  default     = ""
}

variable "stage_name" {
  description = "Stage of the deployment; the environment (local, dev, staging, prod)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_]{1,128}$", var.stage_name))
    error_message = "A stage name is letters, digits and '_'."
  }
}

variable "path_part" {
  description = "The resource under the root that accepts POST (`transactions` for POST /transactions)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.path_part))
    error_message = "path_part is one path segment, without '/'."
  }
}

variable "lambda_function_name" {
  description = "Name of the function the integration calls (for the invoke permission)."
  type        = string
}

variable "lambda_invoke_arn" {
  description = "Invoke ARN of the function the AWS_PROXY integration calls."
  type        = string
}

variable "tags" {
  description = "Tags added to the API and its stage (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
