# A private, encrypted bucket and, optionally, the notification of a Lambda function for
# the objects created under a prefix (`orders/` for S2's intake).

resource "aws_s3_bucket" "this" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_notification" "this" {
  count = var.notification == null ? 0 : 1

  bucket = aws_s3_bucket.this.id

  lambda_function {
    lambda_function_arn = var.notification.function_arn
    events              = var.notification.events
    filter_prefix       = var.notification.prefix
  }
}
