# The production account: applied by CI on a version tag or by hand, after approval.

environment            = "prod"
region                 = "us-east-1"
use_localstack         = false
log_retention_days     = 90
point_in_time_recovery = true
