# Remote state of the calculator stack in dev: `terraform init -backend-config=environments/dev.backend.hcl`.
# The bucket and the lock table (partition key LockID, type S) are made once per account
# (deploy/terraform/README.md, "State").

bucket         = "edalab-terraform-state-dev"
key            = "calculator/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "edalab-terraform-locks-dev"
encrypt        = true
