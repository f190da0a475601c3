terraform {
  # Partial configuration: bucket, key, region and lock table come from
  # `terraform init -backend-config=environments/<environment>.backend.hcl`
  # (README.md, "State"; `local` may use a local state file instead).
  backend "s3" {}
}
