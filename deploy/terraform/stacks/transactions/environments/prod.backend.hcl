# Remote state of the transactions stack in prod: `terraform init -backend-config=environments/prod.backend.hcl`.
# The bucket and the lock table (partition key LockID, type S) are made once per account
# (deploy/terraform/README.md, "State").

bucket         = "edalab-terraform-state-prod"
key            = "transactions/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "edalab-terraform-locks-prod"
encrypt        = true
