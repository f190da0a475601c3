output "orders_bucket" {
  description = "Name of the bucket; put order files under orders/."
  value       = module.orders_bucket.bucket_name
}

output "orders_queue_url" {
  description = "URL of tp-orders-queue."
  value       = module.orders_queue.queue_url
}

output "orders_dlq_url" {
  description = "URL of tp-orders-dlq."
  value       = module.orders_queue.dlq_url
}

output "orders_table" {
  description = "Name of the orders table."
  value       = module.orders_table.table_name
}

output "function_names" {
  description = "Names of the stack's functions, by role."
  value = {
    order-validator = module.order_validator.function_name
    order-worker    = module.order_worker.function_name
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}
