# For the `local` environment (an emulator) only: copied into a stack's directory, this
# override replaces the stack's S3 backend with a state file in that directory
# (terraform.tfstate, ignored by git). See ../README.md, "Against an emulator".
terraform {
  backend "local" {}
}
