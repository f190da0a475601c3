# One function of the edalab-lambda binary (`bootstrap` on provided.al2023), its log group,
# an execution role limited to what the function does, and optionally its SQS event source
# mapping and the permission for S3 to invoke it.

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Every action is named and every resource is an ARN given to the module, except
# cloudwatch:PutMetricData, which has no resource ARN: it is limited by its namespace.
data "aws_iam_policy_document" "permissions" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.sqs_trigger == null ? [] : [var.sqs_trigger.queue_arn]

    content {
      sid = "ConsumeQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(var.send_queue_arns) == 0 ? [] : [var.send_queue_arns]

    content {
      sid       = "SendToQueues"
      actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.dynamodb_table_arns) == 0 ? [] : [var.dynamodb_table_arns]

    content {
      sid = "ReadWriteTables"
      actions = [
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
      ]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.read_object_arns) == 0 ? [] : [var.read_object_arns]

    content {
      sid       = "ReadObjects"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = var.metrics_namespace == null ? [] : [var.metrics_namespace]

    content {
      sid       = "PutMetricsInOwnNamespace"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}

resource "aws_lambda_function" "this" {
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]
  timeout          = var.timeout
  memory_size      = var.memory_size

  environment {
    variables = var.environment_variables
  }

  tags = var.tags

  # The log group exists before the first invocation, and the role can write to it.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "queue" {
  count = var.sqs_trigger == null ? 0 : 1

  event_source_arn        = var.sqs_trigger.queue_arn
  function_name           = aws_lambda_function.this.arn
  batch_size              = var.sqs_trigger.batch_size
  function_response_types = ["ReportBatchItemFailures"]
  enabled                 = true

  scaling_config {
    maximum_concurrency = var.sqs_trigger.maximum_concurrency
  }

  # Lambda checks the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_permission" "s3" {
  count = length(var.s3_invoke_bucket_arns)

  statement_id  = "AllowS3Invoke${count.index}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "s3.amazonaws.com"
  source_arn    = var.s3_invoke_bucket_arns[count.index]
}
