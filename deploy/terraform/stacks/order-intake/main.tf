# S2 (order intake): an object under orders/ of the bucket -> order-validator -> SQS
# `tp-orders-queue` -> order-worker -> DynamoDB, with counts in CloudWatch. Names and
# settings equal the code's constants (`edalab aws deploy` makes the same resources from
# them; a test compares the two).

data "aws_partition" "current" {}

# The dead letters' reasons table belongs to the transactions stack (apply it first).
data "aws_dynamodb_table" "dead_letters" {
  name = "edalab-dead-letters"
}

locals {
  # Built from the name, not from the bucket module: the bucket's notification needs the
  # validator's invoke permission first, and the permission needs the bucket's ARN.
  orders_bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.orders_bucket}"
}

# ---- Queue ----

module "orders_queue" {
  source = "../../modules/sqs"

  name                          = "tp-orders-queue"
  dlq_name                      = "tp-orders-dlq"
  visibility_timeout_seconds    = 60
  message_retention_seconds     = 345600
  max_receive_count             = 3
  dlq_message_retention_seconds = 1209600
  consumed                      = true
}

# ---- Tables ----

module "orders_table" {
  source = "../../modules/dynamodb"

  table_name             = "tp-orders"
  hash_key               = "order_id"
  point_in_time_recovery = var.point_in_time_recovery
}

module "order_duplicates_table" {
  source = "../../modules/dynamodb"

  table_name             = "tp-orders-duplicates"
  hash_key               = "order_id"
  range_key              = "intake_id"
  point_in_time_recovery = var.point_in_time_recovery
}

# ---- Functions ----

module "order_validator" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-order-validator-${var.environment}"
  description        = "S2: validates each order file put under orders/, queues the valid orders"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION = "order-validator"
  }

  read_object_arns      = ["${local.orders_bucket_arn}/orders/*"]
  send_queue_arns       = [module.orders_queue.queue_arn]
  s3_invoke_bucket_arns = [local.orders_bucket_arn]
}

module "order_worker" {
  source = "../../modules/lambda"

  function_name      = "${var.project}-order-worker-${var.environment}"
  description        = "S2: records the queued orders once, counts them in CloudWatch"
  zip_path           = var.lambda_zip_path
  timeout            = 30
  memory_size        = 256
  log_retention_days = var.log_retention_days

  environment_variables = {
    EDALAB_FUNCTION          = "order-worker"
    EDALAB_METRICS_NAMESPACE = var.metrics_namespace
  }

  sqs_trigger = {
    queue_arn           = module.orders_queue.queue_arn
    batch_size          = 10
    maximum_concurrency = 10
  }

  dynamodb_table_arns = [
    module.orders_table.table_arn,
    module.order_duplicates_table.table_arn,
    data.aws_dynamodb_table.dead_letters.arn,
  ]
  metrics_namespace = var.metrics_namespace
}

# ---- Bucket (after the validator: S3 checks it may invoke it) ----

module "orders_bucket" {
  source = "../../modules/s3-intake"

  bucket_name   = var.orders_bucket
  force_destroy = var.force_destroy_buckets

  notification = {
    function_arn = module.order_validator.function_arn
    prefix       = "orders/"
    events       = ["s3:ObjectCreated:*"]
  }

  depends_on = [module.order_validator]
}

# ---- Alarms and dashboard ----

module "monitoring" {
  source = "../../modules/cloudwatch"

  name_prefix   = "${var.project}-order-intake-${var.environment}"
  region        = var.region
  alarm_actions = var.alarm_actions

  dead_letter_queues = {
    orders = module.orders_queue.dlq_name
  }

  functions = {
    order-validator = module.order_validator.function_name
    order-worker    = module.order_worker.function_name
  }

  custom_metrics = {
    namespace    = var.metrics_namespace
    metric_names = ["OrdersProcessed", "OrdersRejected", "OrdersDuplicate"]
  }
}
