output "api_endpoint" {
  description = "URL that accepts POST /transactions (the stage's invoke URL and the path)."
  value       = module.api.api_endpoint
}

output "transactions_queue_url" {
  description = "URL of the transactions queue."
  value       = module.transactions_queue.queue_url
}

output "transactions_dlq_url" {
  description = "URL of the transactions queue's dead-letter queue."
  value       = module.transactions_queue.dlq_url
}

output "state_machine_arn" {
  description = "ARN of the transaction workflow (aws stepfunctions start-execution --state-machine-arn ...)."
  value       = module.transaction_workflow.state_machine_arn
}

output "archive_bucket" {
  description = "Name of S0's archive bucket."
  value       = module.archive_bucket.bucket_name
}

output "dead_letters_table" {
  description = "Name of the dead letters' reasons table the other stacks use."
  value       = module.dead_letters_table.table_name
}

output "function_names" {
  description = "Names of the stack's functions, by role."
  value = {
    submit-transaction   = module.submit_transaction.function_name
    process-transaction  = module.process_transaction.function_name
    workflow-validate    = module.workflow_validate.function_name
    workflow-fraud-check = module.workflow_fraud_check.function_name
    workflow-process     = module.workflow_process.function_name
    workflow-notify      = module.workflow_notify.function_name
    workflow-alert       = module.workflow_alert.function_name
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}
