# An emulator (ministack or LocalStack) on localhost:4566; nothing leaves the machine.

environment            = "local"
region                 = "us-east-1"
use_localstack         = true
log_retention_days     = 1
point_in_time_recovery = false
