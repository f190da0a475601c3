# S0 (seed 000): POST /transactions -> submit-transaction -> SQS `transactions` ->
# process-transaction, the five functions of the transaction workflow (Step Functions), the
# store's DynamoDB tables, the dead letters' reasons table shared with the other stacks,
# and the archive bucket. Names and settings equal the code's constants
# (`edalab aws deploy` makes the same resources from them; a test compares the two).

# ---- Queue ----

module "transactions_queue" {
  source = "../../modules/sqs"

  name                          = "transactions"
  dlq_name                      = "transactions-dlq"
  visibility_timeout_seconds    = 60
  message_retention_seconds     = 345600
  max_receive_count             = 3
  dlq_message_retention_seconds = 1209600
  consumed                      = true
}

# ---- Tables ----

module "transactions_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-transactions"
  hash_key               = "id"
  point_in_time_recovery = var.point_in_time_recovery
}

module "transaction_totals_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-transaction-totals"
  hash_key               = "currency"
  point_in_time_recovery = var.point_in_time_recovery
}

module "transaction_effects_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-transaction-effects"
  hash_key               = "id"
  point_in_time_recovery = var.point_in_time_recovery
}

module "transaction_archive_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-transaction-archive"
  hash_key               = "file"
  point_in_time_recovery = var.point_in_time_recovery
}

# Why each message was dead-lettered, for every stack's consumers (the calculator and
# order-intake stacks find it by name: apply this stack first).
module "dead_letters_table" {
  source = "../../modules/dynamodb"

  table_name             = "edalab-dead-letters"
  hash_key               = "message_id"
  ttl_attribute          = "expires_at"
  point_in_time_recovery = var.point_in_time_recovery
}

locals {
  # The tables of S0's store, which every S0 function opens.
  store_table_arns = [
    module.transactions_table.table_arn,
    module.transaction_totals_table.table_arn,
    module.transaction_effects_table.table_arn,
    module.transaction_archive_table.table_arn,
  ]
}

# ---- Archive (S0-05: objects under archive/transactions/) ----

module "archive_bucket" {
  source = "../../modules/s3-intake"

  bucket_name   = var.archive_bucket
  force_destroy = var.force_destroy_buckets
}

# ---- Functions (one zip; EDALAB_FUNCTION picks the role) ----

module "submit_transaction" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-submit-transaction-${var.environment}"
  description        = "S0: POST /transactions behind API Gateway; queues the transaction"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION                      = "submit-transaction"
    KAFKA_BROKERS                        = var.kafka_brokers
    AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH = "true"
  }

  send_queue_arns     = [module.transactions_queue.queue_arn]
  dynamodb_table_arns = local.store_table_arns
}

module "process_transaction" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-process-transaction-${var.environment}"
  description        = "S0: processes the transactions queue's batches"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "process-transaction"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  sqs_trigger = {
    queue_arn           = module.transactions_queue.queue_arn
    batch_size          = 10
    maximum_concurrency = 10
  }

  dynamodb_table_arns = concat(local.store_table_arns, [module.dead_letters_table.table_arn])
}

module "workflow_validate" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-workflow-validate-${var.environment}"
  description        = "S0-08: the workflow's Validate task"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "workflow-validate"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  dynamodb_table_arns = local.store_table_arns
}

module "workflow_fraud_check" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-workflow-fraud-check-${var.environment}"
  description        = "S0-08: the workflow's FraudCheck task"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "workflow-fraud-check"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  dynamodb_table_arns = local.store_table_arns
}

module "workflow_process" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-workflow-process-${var.environment}"
  description        = "S0-08: the workflow's Process task"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "workflow-process"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  dynamodb_table_arns = local.store_table_arns
}

module "workflow_notify" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-workflow-notify-${var.environment}"
  description        = "S0-08: the workflow's Notify task"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "workflow-notify"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  dynamodb_table_arns = local.store_table_arns
}

module "workflow_alert" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-workflow-alert-${var.environment}"
  description        = "S0-08: the workflow's Alert task"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "workflow-alert"
    KAFKA_BROKERS   = var.kafka_brokers
  }

  dynamodb_table_arns = local.store_table_arns
}

# ---- API (POST /transactions) ----

module "api" {
  source = "../../modules/api-gateway"

  api_name             = "${var.project}-api-${var.environment}"
  description          = "edalab S0: POST /transactions (seed 000)"
  stage_name           = var.environment
  path_part            = "transactions"
  lambda_function_name = module.submit_transaction.function_name
  lambda_invoke_arn    = module.submit_transaction.invoke_arn
}

# ---- Workflow (S0-08) ----

module "transaction_workflow" {
  source = "../../modules/step-functions"

  name               = "${var.project}-transaction-workflow-${var.environment}"
  definition_path    = "${path.module}/../../../stepfunctions/transaction-workflow.asl.json"
  log_retention_days = var.log_retention_days
  log_level          = var.workflow_log_level

  task_arns = {
    validate_arn    = module.workflow_validate.function_arn
    fraud_check_arn = module.workflow_fraud_check.function_arn
    process_arn     = module.workflow_process.function_arn
    notify_arn      = module.workflow_notify.function_arn
    alert_arn       = module.workflow_alert.function_arn
  }
}

# ---- Alarms and dashboard ----

module "monitoring" {
  source = "../../modules/cloudwatch"

  name_prefix   = "${var.project}-transactions-${var.environment}"
  region        = var.region
  alarm_actions = var.alarm_actions

  dead_letter_queues = {
    transactions = module.transactions_queue.dlq_name
  }

  functions = {
    submit-transaction   = module.submit_transaction.function_name
    process-transaction  = module.process_transaction.function_name
    workflow-validate    = module.workflow_validate.function_name
    workflow-fraud-check = module.workflow_fraud_check.function_name
    workflow-process     = module.workflow_process.function_name
    workflow-notify      = module.workflow_notify.function_name
    workflow-alert       = module.workflow_alert.function_name
  }
}
