output "queue_name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}

output "queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue, or null without one."
  value       = one(aws_sqs_queue.dlq[*].name)
}

output "dlq_url" {
  description = "URL of the dead-letter queue, or null without one."
  value       = one(aws_sqs_queue.dlq[*].url)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue, or null without one."
  value       = one(aws_sqs_queue.dlq[*].arn)
}
