//! S2's source on S3 (`docs/adr/026-aws-profile.md` §5, S2-02): objects created under the
//! bucket's `orders/` prefix are notified to queue `tp-orders-intake-events` (+ DLQ), whose
//! consumer plays the seed's `tp-order-validator` in process: for each record of an S3 event
//! it reads the object and queues it on `tp-orders-queue` as the folder watcher would, with
//! `intake_id` = `s3://bucket/key@sequencer` (a repeated notification is recognised by the
//! worker). `s3:TestEvent` is skipped; keys are URL-decoded (`+`, then percent escapes).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, FilterRule, FilterRuleName,
    LambdaFunctionConfiguration, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Message, QueueConsumer, QueueSpec, Queues, on_dead_letter};
use edalab_services::intake::{INTAKE_QUEUE, OrderSource, order_record};
use edalab_services::pipeline::{self, Shutdown, StartError, Task};
use serde_json::Value;

use crate::SqsQueues;

/// The prefix the seed watches.
pub const ORDERS_PREFIX: &str = "orders/";
/// The bucket unless configured otherwise.
pub const DEFAULT_BUCKET: &str = "tp-orders";
/// The queue S3 notifies, and its DLQ.
pub const INTAKE_EVENTS_QUEUE: &str = "tp-orders-intake-events";
pub const INTAKE_EVENTS_DLQ: &str = "tp-orders-intake-events-dlq";
/// The id of our notification in the bucket's configuration.
const NOTIFICATION_ID: &str = "edalab-orders-intake";
/// Larger objects are dead-lettered unread (as the folder watcher rejects them).
pub const OBJECT_SIZE_MAX: i64 = 1 << 20;

/// `tp-orders-intake-events` with the seeds' settings.
pub fn intake_events_queue() -> QueueSpec {
    QueueSpec::seeded(INTAKE_EVENTS_QUEUE, INTAKE_EVENTS_DLQ)
}

/// Order files from `s3://bucket/orders/`.
pub struct S3OrderSource {
    s3: aws_sdk_s3::Client,
    events: SqsQueues,
    bucket: String,
}

impl S3OrderSource {
    /// Ensures the bucket, the events queue (+ DLQ, and a policy letting the bucket send to
    /// it) and the bucket's notification of `orders/` to that queue; other notifications of
    /// the bucket are kept. A Lambda already notified of `orders/` (the deployed mode) is a
    /// clash, named.
    pub async fn open(
        s3: aws_sdk_s3::Client,
        events: SqsQueues,
        bucket: &str,
    ) -> Result<Self, String> {
        let source = Self {
            s3,
            events,
            bucket: bucket.to_owned(),
        };
        source.ensure_bucket().await?;
        edalab_bus::Queues::ensure(&source.events, &intake_events_queue())
            .await
            .map_err(|e| format!("queue `{INTAKE_EVENTS_QUEUE}`: {e}"))?;
        let queue_arn = source.allow_bucket_to_send().await?;
        source.ensure_notification(&queue_arn).await?;
        Ok(source)
    }

    fn s3_failure<E: std::error::Error + 'static>(
        &self,
        operation: &str,
        error: aws_sdk_s3::error::SdkError<E>,
    ) -> String {
        format!(
            "S3 {operation} on bucket `{}`: {}",
            self.bucket,
            DisplayErrorContext(error)
        )
    }

    async fn ensure_bucket(&self) -> Result<(), String> {
        ensure_bucket(&self.s3, &self.bucket).await
    }

    /// Sets the events queue's policy (S3 may send from this bucket only); its ARN.
    async fn allow_bucket_to_send(&self) -> Result<String, String> {
        let url = self
            .events
            .url(INTAKE_EVENTS_QUEUE)
            .await
            .map_err(|e| e.to_string())?;
        let arn = self
            .events
            .queue_arn(INTAKE_EVENTS_QUEUE)
            .await
            .map_err(|e| e.to_string())?;
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{}", self.bucket)}},
            }],
        });
        self.events
            .client()
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy.to_string(),
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SQS SetQueueAttributes(Policy) on `{INTAKE_EVENTS_QUEUE}`: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        Ok(arn)
    }

    async fn ensure_notification(&self, queue_arn: &str) -> Result<(), String> {
        let current = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| self.s3_failure("GetBucketNotificationConfiguration", e))?;
        if let Some(lambda) = current.lambda_function_configurations().first() {
            return Err(format!(
                "S3 bucket `{}` already notifies Lambda {} (the deployed order-validator?): \
                 in-process intake would compete with it; run `edalab aws destroy` or use \
                 another aws.bucket",
                self.bucket,
                lambda.lambda_function_arn()
            ));
        }
        let ours = QueueConfiguration::builder()
            .id(NOTIFICATION_ID)
            .queue_arn(queue_arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(prefix_filter())
            .build()
            .map_err(|e| format!("notification of bucket `{}`: {e}", self.bucket))?;
        let mut queues: Vec<QueueConfiguration> = current
            .queue_configurations()
            .iter()
            .filter(|q| q.id() != Some(NOTIFICATION_ID))
            .cloned()
            .collect();
        queues.push(ours);
        let configuration = NotificationConfiguration::builder()
            .set_queue_configurations(Some(queues))
            .set_topic_configurations(Some(current.topic_configurations().to_vec()))
            .build();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(&self.bucket)
            .notification_configuration(configuration)
            .send()
            .await
            .map_err(|e| self.s3_failure("PutBucketNotificationConfiguration", e))?;
        Ok(())
    }
}

/// Creates `bucket` unless it exists (naming the region outside us-east-1).
pub async fn ensure_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    let failure = |operation: &str, e: &dyn std::fmt::Display| {
        format!("S3 {operation} on bucket `{bucket}`: {e}")
    };
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) => return Err(failure("HeadBucket", &DisplayErrorContext(e))),
    }
    let mut create = s3.create_bucket().bucket(bucket);
    // Outside us-east-1, S3 wants the region named again.
    if let Some(region) = s3.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
        {
            Ok(())
        }
        Err(e) => Err(failure("CreateBucket", &DisplayErrorContext(e))),
    }
}

/// The id of the deployed validator's notification in the bucket's configuration.
const LAMBDA_NOTIFICATION_ID: &str = "edalab-orders-validator";

/// Notifies function `function_arn` of objects created under `orders/` in `bucket` (the
/// deployed mode), or with `None` stops notifying it, keeping the bucket's other
/// notifications; the in-process intake's queue notification is a clash, named.
pub async fn notify_function(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    function_arn: Option<&str>,
) -> Result<(), String> {
    let failure = |operation: &str, e: &dyn std::fmt::Display| {
        format!("S3 {operation} on bucket `{bucket}`: {e}")
    };
    let current = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| {
            failure(
                "GetBucketNotificationConfiguration",
                &DisplayErrorContext(e),
            )
        })?;
    if function_arn.is_some()
        && current
            .queue_configurations()
            .iter()
            .any(|q| q.id() == Some(NOTIFICATION_ID))
    {
        return Err(format!(
            "S3 bucket `{bucket}` already notifies queue {INTAKE_EVENTS_QUEUE} (an in-process \
             `--profile aws` intake): the deployed order-validator would compete with it; \
             remove that notification or deploy with another bucket"
        ));
    }
    let mut functions: Vec<LambdaFunctionConfiguration> = current
        .lambda_function_configurations()
        .iter()
        .filter(|f| f.id() != Some(LAMBDA_NOTIFICATION_ID))
        .cloned()
        .collect();
    if let Some(arn) = function_arn {
        let ours = LambdaFunctionConfiguration::builder()
            .id(LAMBDA_NOTIFICATION_ID)
            .lambda_function_arn(arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(prefix_filter())
            .build()
            .map_err(|e| format!("notification of bucket `{bucket}`: {e}"))?;
        functions.push(ours);
    }
    let configuration = NotificationConfiguration::builder()
        .set_lambda_function_configurations(Some(functions))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            failure(
                "PutBucketNotificationConfiguration",
                &DisplayErrorContext(e),
            )
        })?;
    Ok(())
}

/// The validator role (S3 event → the objects' bytes on `tp-orders-queue` through
/// `orders`), the same in process and in the `order-validator` Lambda function.
pub fn validator(s3: aws_sdk_s3::Client, orders: Arc<dyn Queues>) -> Arc<dyn Handler> {
    Arc::new(Validator { s3, orders })
}

fn prefix_filter() -> NotificationConfigurationFilter {
    let rule = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value(ORDERS_PREFIX)
        .build();
    NotificationConfigurationFilter::builder()
        .key(S3KeyFilter::builder().filter_rules(rule).build())
        .build()
}

#[async_trait]
impl OrderSource for S3OrderSource {
    fn describe(&self) -> String {
        format!("s3://{}/{ORDERS_PREFIX}", self.bucket)
    }

    async fn start(&self, queues: Arc<dyn Queues>, shutdown: Shutdown) -> Result<Task, StartError> {
        let consumer = QueueConsumer {
            group: "tp-order-validator".to_owned(),
            dead_letter_group: "tp-order-validator-dlq".to_owned(),
            handler: validator(self.s3.clone(), queues),
            on_dead_letter: on_dead_letter(|dead| async move {
                tracing::warn!(queue = %dead.queue, reason = %dead.reason, "S3 event dead-lettered");
            }),
        };
        let (task, _) = pipeline::consume(
            edalab_services::intake::SERVICE,
            "tp-order-validator",
            &self.events,
            &intake_events_queue(),
            consumer,
            shutdown,
        )
        .await?;
        Ok(task)
    }
}

/// One created object, from an S3 event record.
#[derive(Debug, PartialEq, Eq)]
pub struct Created {
    pub bucket: String,
    /// Decoded.
    pub key: String,
    pub sequencer: String,
    pub size: i64,
}

/// The created objects an S3 notification names: none for `s3:TestEvent` or other events;
/// an error when the body is not an S3 notification.
pub fn created_objects(body: &[u8]) -> Result<Vec<Created>, String> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| format!("not an S3 notification: {e}"))?;
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("not an S3 notification: no `Records` array")?;
    let mut created = Vec::new();
    for record in records {
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !name.starts_with("ObjectCreated") {
            continue;
        }
        let text = |pointer: &str| {
            record
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("S3 event record without {pointer}"))
        };
        created.push(Created {
            bucket: text("/s3/bucket/name")?,
            key: decode_key(&text("/s3/object/key")?)?,
            sequencer: text("/s3/object/sequencer").unwrap_or_default(),
            size: record
                .pointer("/s3/object/size")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        });
    }
    Ok(created)
}

/// An S3 event's key: `+` is a space, then percent escapes.
pub fn decode_key(key: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|e| format!("object key {key:?} is not UTF-8 once decoded: {e}"))
}

/// The validator role: S3 event → the objects' bytes on `tp-orders-queue`.
struct Validator {
    s3: aws_sdk_s3::Client,
    orders: Arc<dyn Queues>,
}

impl Validator {
    async fn read(&self, object: &Created) -> Result<Vec<u8>, Outcome> {
        let got = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            // Deleted since: nothing to queue.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(Outcome::Done);
            }
            Err(e) => {
                return Err(Outcome::retry(format!(
                    "S3 GetObject s3://{}/{}: {}",
                    object.bucket,
                    object.key,
                    DisplayErrorContext(e)
                )));
            }
        };
        let bytes = output.body.collect().await.map_err(|e| {
            Outcome::retry(format!(
                "reading s3://{}/{}: {e}",
                object.bucket, object.key
            ))
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[async_trait]
impl Handler for Validator {
    async fn handle(&self, message: &Message) -> Outcome {
        let objects = match created_objects(&message.value) {
            Ok(objects) => objects,
            Err(reason) => return Outcome::reject(reason),
        };
        let mut records = Vec::new();
        for object in objects.iter().filter(|o| !o.key.ends_with('/')) {
            if object.size > OBJECT_SIZE_MAX {
                return Outcome::reject(format!(
                    "s3://{}/{}: {} bytes, more than the {OBJECT_SIZE_MAX} an order file may have",
                    object.bucket, object.key, object.size
                ));
            }
            let bytes = match self.read(object).await {
                Ok(bytes) => bytes,
                Err(Outcome::Done) => continue,
                Err(outcome) => return outcome,
            };
            let intake_id = format!("s3://{}/{}@{}", object.bucket, object.key, object.sequencer);
            records.push(order_record(&object.key, &intake_id, bytes));
        }
        if records.is_empty() {
            return Outcome::Done;
        }
        match self.orders.send(INTAKE_QUEUE, records).await {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::retry(format!("queueing on `{INTAKE_QUEUE}`: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_events_are_skipped_and_keys_decoded() {
        let test_event = br#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert_eq!(created_objects(test_event), Ok(Vec::new()));
        let event = br#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},
             "object":{"key":"orders/my+order%C3%A9%2B1.json","size":12,"sequencer":"0A1"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},
             "object":{"key":"orders/gone.json","sequencer":"0A2"}}}]}"#;
        assert_eq!(
            created_objects(event),
            Ok(vec![Created {
                bucket: "b".to_owned(),
                key: "orders/my orderé+1.json".to_owned(),
                sequencer: "0A1".to_owned(),
                size: 12,
            }])
        );
    }

    #[test]
    fn other_bodies_are_named_errors() {
        assert!(
            created_objects(b"nope")
                .unwrap_err()
                .contains("not an S3 notification")
        );
        assert!(created_objects(b"{}").unwrap_err().contains("Records"));
        assert!(decode_key("%FF").unwrap_err().contains("UTF-8"));
    }
}
