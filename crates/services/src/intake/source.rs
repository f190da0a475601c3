//! What a profile may provide the intake instead of its local defaults
//! (`docs/adr/026-aws-profile.md` §5): the store (DynamoDB `tp-orders` on `aws`), the source
//! of order files (an S3 bucket's `orders/` prefix instead of the inbox folder) and a second
//! home for the S2-04 counts (CloudWatch). The intake never learns which cloud they are.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::{Queues, Record};
use edalab_domain::order::OrderStatus;

use super::{FILE_HEADER, INTAKE_ID_HEADER, IntakeStore};
use crate::pipeline::{Shutdown, StartError, Task, signalled};

/// The intake's provided ports; `None` keeps the local default.
#[derive(Clone, Default)]
pub struct IntakeBackends {
    pub store: Option<Arc<dyn IntakeStore>>,
    pub source: Option<Arc<dyn OrderSource>>,
    pub counts: Option<Arc<dyn OrderCounts>>,
}

/// Where order files come from when it is not the inbox folder.
#[async_trait]
pub trait OrderSource: Send + Sync {
    /// Where, for the banner and the logs (`s3://tp-orders/orders/`).
    fn describe(&self) -> String;

    /// Starts delivering: each order file becomes one [`order_record`] sent to
    /// [`super::INTAKE_QUEUE`] through `queues`, each file once per `intake_id`, until
    /// `shutdown`.
    async fn start(&self, queues: Arc<dyn Queues>, shutdown: Shutdown) -> Result<Task, StartError>;
}

/// Another home for the S2-04 counts, written in batches: [`OrderCounts::add`] is called once
/// per order after its status was recorded for the first time, [`OrderCounts::flush`] every
/// second and once at shutdown.
#[async_trait]
pub trait OrderCounts: Send + Sync {
    fn add(&self, status: OrderStatus);

    /// Sends what was added since the last flush; on failure keeps it for the next.
    async fn flush(&self) -> Result<(), String>;
}

/// The queued form of an order file, whatever its source: the raw bytes, keyed by the
/// order id when the file names one (else by `file_name`), with headers `file_name` and
/// `intake_id` (what makes a second delivery of the same file recognisable).
pub fn order_record(file_name: &str, intake_id: &str, bytes: Vec<u8>) -> Record {
    let key = edalab_domain::order::OrderFile::from_json(&bytes)
        .ok()
        .and_then(|f| f.order_id_hint().map(str::to_owned))
        .unwrap_or_else(|| file_name.to_owned());
    Record::new(Some(key.into_bytes()), bytes)
        .with_header(FILE_HEADER, file_name.as_bytes())
        .with_header(INTAKE_ID_HEADER, intake_id.as_bytes())
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json")
}

/// How often the counts are flushed.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Flushes `counts` every second, and once more at shutdown.
pub(super) fn spawn_flusher(counts: Arc<dyn OrderCounts>, shutdown: Shutdown) -> Task {
    let handle = tokio::spawn(async move {
        let stop = signalled(shutdown);
        tokio::pin!(stop);
        loop {
            let stopping = tokio::select! {
                _ = &mut stop => true,
                _ = tokio::time::sleep(FLUSH_INTERVAL) => false,
            };
            if let Err(error) = counts.flush().await {
                tracing::warn!(%error, "order counts not flushed; kept for the next flush");
            }
            if stopping {
                return Ok(());
            }
        }
    });
    Task {
        name: "tp-order-counts".to_owned(),
        handle,
    }
}
