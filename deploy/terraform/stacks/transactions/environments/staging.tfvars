# The staging account: applied by CI on a version tag or by hand, after approval.
# kafka_brokers: replace with the brokers your functions can reach (host:port,...).
# Bucket names are global on AWS: change them if they are taken.

environment            = "staging"
region                 = "us-east-1"
use_localstack         = false
log_retention_days     = 30
point_in_time_recovery = true
force_destroy_buckets  = false
kafka_brokers          = "kafka.staging.example.internal:9092"
archive_bucket         = "edalab-archive-staging"
