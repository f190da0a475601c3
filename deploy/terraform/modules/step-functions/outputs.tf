output "state_machine_name" {
  description = "Name of the state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_arn" {
  description = "ARN of the state machine (what StartExecution takes)."
  value       = aws_sfn_state_machine.this.arn
}

output "role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the executions' log group."
  value       = aws_cloudwatch_log_group.this.name
}
