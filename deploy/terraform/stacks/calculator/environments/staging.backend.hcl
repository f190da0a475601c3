# Remote state of the calculator stack in staging: `terraform init -backend-config=environments/staging.backend.hcl`.
# The bucket and the lock table (partition key LockID, type S) are made once per account
# (deploy/terraform/README.md, "State").

bucket         = "edalab-terraform-state-staging"
key            = "calculator/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "edalab-terraform-locks-staging"
encrypt        = true
