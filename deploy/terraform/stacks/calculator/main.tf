# S1 (the calculator): SQS `calculatrice-input-queue` -> calculator -> SQS
# `calculatrice-output-queue`, calculations in DynamoDB. Names and settings equal the code's
# constants (`edalab aws deploy` makes the same resources from them; a test compares the two).

# The dead letters' reasons table belongs to the transactions stack (apply it first).
data "aws_dynamodb_table" "dead_letters" {
  name = "edalab-dead-letters"
}

# ---- Queues ----

module "calculator_input_queue" {
  source = "../../modules/sqs"

  name                          = "calculatrice-input-queue"
  dlq_name                      = "calculatrice-input-queue-dlq"
  visibility_timeout_seconds    = 60
  message_retention_seconds     = 345600
  max_receive_count             = 3
  dlq_message_retention_seconds = 1209600
  consumed                      = true
}

# Results for whoever reads them; nothing here consumes this queue, so it has no DLQ.
module "calculator_output_queue" {
  source = "../../modules/sqs"

  name                       = "calculatrice-output-queue"
  visibility_timeout_seconds = 30
  message_retention_seconds  = 345600
  consumed                   = false
}

# ---- Table ----

module "calculations_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-calculations"
  hash_key               = "id"
  point_in_time_recovery = var.point_in_time_recovery
}

# ---- Function ----

module "calculator" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-calculator-${var.environment}"
  description        = "S1: computes the input queue's operations, sends the results"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "calculator"
  }

  sqs_trigger = {
    queue_arn           = module.calculator_input_queue.queue_arn
    batch_size          = 10
    maximum_concurrency = 10
  }

  send_queue_arns = [module.calculator_output_queue.queue_arn]
  dynamodb_table_arns = [
    module.calculations_table.table_arn,
    data.aws_dynamodb_table.dead_letters.arn,
  ]
}

# ---- Alarms and dashboard ----

module "monitoring" {
  source = "../../modules/cloudwatch"

  name_prefix   = "${var.project}-calculator-${var.environment}"
  region        = var.region
  alarm_actions = var.alarm_actions

  dead_letter_queues = {
    calculator-input = module.calculator_input_queue.dlq_name
  }

  functions = {
    calculator = module.calculator.function_name
  }
}
