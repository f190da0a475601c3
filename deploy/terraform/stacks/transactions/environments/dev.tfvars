# The dev account: applied by CI on every push to main.
# kafka_brokers: replace with the brokers your functions can reach (host:port,...).
# Bucket names are global on AWS: change them if they are taken.

environment            = "dev"
region                 = "us-east-1"
use_localstack         = false
log_retention_days     = 14
point_in_time_recovery = false
force_destroy_buckets  = true
kafka_brokers          = "kafka.dev.example.internal:9092"
archive_bucket         = "edalab-archive-dev"
