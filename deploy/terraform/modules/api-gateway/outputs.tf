output "api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the REST API."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_invoke_url" {
  description = "Base URL of the stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_endpoint" {
  description = "URL that accepts POST: the stage's invoke URL and the path (as seed 000's api_endpoint)."
  value       = "${aws_api_gateway_stage.this.invoke_url}/${var.path_part}"
}
