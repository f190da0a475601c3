variable "table_name" {
  description = "Name of the table (literal, as the code names it)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "A table name is 3 to 255 letters, digits, '_', '-' and '.'."
  }
}

variable "hash_key" {
  description = "Partition key attribute (type S)."
  type        = string
}

variable "range_key" {
  description = "Sort key attribute (type S), or null."
  type        = string
  default     = null
}

variable "ttl_attribute" {
  description = "Attribute holding the expiry time in epoch seconds (DynamoDB TTL), or null for no TTL."
  type        = string
  default     = null
}

variable "point_in_time_recovery" {
  description = "Whether point-in-time recovery (continuous backups) is on."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to the table (the provider's default tags apply too)."
  type        = map(string)
  default     = {}
}
