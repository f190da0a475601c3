output "input_queue_url" {
  description = "URL of calculatrice-input-queue (send operations here)."
  value       = module.calculator_input_queue.queue_url
}

output "input_dlq_url" {
  description = "URL of the input queue's dead-letter queue."
  value       = module.calculator_input_queue.dlq_url
}

output "output_queue_url" {
  description = "URL of calculatrice-output-queue (the results)."
  value       = module.calculator_output_queue.queue_url
}

output "calculations_table" {
  description = "Name of the calculations table."
  value       = module.calculations_table.table_name
}

output "function_name" {
  description = "Name of the calculator function."
  value       = module.calculator.function_name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}
