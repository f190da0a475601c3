terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

locals {
  # Every service this stack calls goes to the emulator when use_localstack is true;
  # null keeps the provider's own endpoint (AWS).
  emulator = var.use_localstack ? var.localstack_endpoint : null
}

provider "aws" {
  region = var.region

  # The emulator has no real credentials, account or instance metadata.
  skip_credentials_validation = var.use_localstack
  skip_metadata_api_check     = var.use_localstack
  skip_requesting_account_id  = var.use_localstack
  s3_use_path_style           = var.use_localstack

  # The emulator's well-known test keys, only against the emulator; on AWS the usual
  # credential chain applies (environment, profile, OIDC role in CI).
  access_key = var.use_localstack ? "test" : null
  secret_key = var.use_localstack ? "test" : null

  endpoints {
    cloudwatch = local.emulator
    dynamodb   = local.emulator
    iam        = local.emulator
    lambda     = local.emulator
    logs       = local.emulator
    s3         = local.emulator
    sqs        = local.emulator
    sts        = local.emulator
  }

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      Stack       = "order-intake"
      ManagedBy   = "terraform"
    }
  }
}
