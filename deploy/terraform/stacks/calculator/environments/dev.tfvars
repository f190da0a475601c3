# The dev account: applied by CI on every push to main.

environment            = "dev"
region                 = "us-east-1"
use_localstack         = false
log_retention_days     = 14
point_in_time_recovery = false
