# Alarms on what needs a person: a message in a dead-letter queue, a function's errors;
# and one dashboard of the same metrics with the application's own.

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.dead_letter_queues

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "Dead-letter queue ${each.value} holds messages: read their reasons (edalab-dead-letters), fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "Function ${each.value} failed invocations: see its log group /aws/lambda/${each.value}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

locals {
  dlq_metrics = [
    for name in values(var.dead_letter_queues) :
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name]
  ]
  error_metrics = [
    for name in values(var.functions) : ["AWS/Lambda", "Errors", "FunctionName", name]
  ]
  invocation_metrics = [
    for name in values(var.functions) : ["AWS/Lambda", "Invocations", "FunctionName", name]
  ]
  custom_metrics = var.custom_metrics == null ? [] : [
    for name in var.custom_metrics.metric_names : [var.custom_metrics.namespace, name]
  ]

  # One widget per non-empty group, two per row.
  widget_groups = [
    for group in [
      { title = "Messages in dead-letter queues", stat = "Maximum", metrics = local.dlq_metrics },
      { title = "Function errors", stat = "Sum", metrics = local.error_metrics },
      { title = "Function invocations", stat = "Sum", metrics = local.invocation_metrics },
      { title = "Application metrics", stat = "Sum", metrics = local.custom_metrics },
    ] : group if length(group.metrics) > 0
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = [
      for index, group in local.widget_groups : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = group.title
          region  = var.region
          stat    = group.stat
          period  = var.period_seconds
          view    = "timeSeries"
          metrics = group.metrics
        }
      }
    ]
  })
}
