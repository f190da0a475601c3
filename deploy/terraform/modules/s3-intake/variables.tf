variable "bucket_name" {
  description = "Name of the bucket (globally unique on AWS)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "A bucket name is 3 to 63 lowercase letters, digits, '.' and '-'."
  }
}

variable "notification" {
  description = "The function invoked for objects created under the prefix, or null for a bucket without notification. The function must already allow S3 to invoke it."
  type = object({
    function_arn = string
    prefix       = optional(string, "orders/")
    events       = optional(list(string), ["s3:ObjectCreated:*"])
  })
  default = null
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket with its objects (true for throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to the bucket (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
