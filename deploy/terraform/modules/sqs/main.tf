# One SQS queue and, unless dlq_name is null, its dead-letter queue with a redrive policy.

locals {
  has_dlq = var.dlq_name != null
}

resource "aws_sqs_queue" "dlq" {
  count = local.has_dlq ? 1 : 0

  name                      = var.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = merge(var.tags, {
    "edalab:role" = "dlq"
  })
}

resource "aws_sqs_queue" "this" {
  name                       = var.name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = local.has_dlq ? jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.max_receive_count
  }) : null

  tags = merge(var.tags, {
    "edalab:role"     = "queue"
    "edalab:consumed" = var.consumed ? "true" : "false"
  })
}
