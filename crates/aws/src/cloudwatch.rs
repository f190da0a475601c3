//! S2-04's counts on CloudWatch (`docs/adr/026-aws-profile.md` §4): `OrdersProcessed`,
//! `OrdersRejected`, `OrdersDuplicate` in the profile's namespace. Counts are added once per
//! order after its status was written for the first time, and sent by one `PutMetricData`
//! per flush (every second, and at shutdown); a failed flush keeps them for the next, so a
//! count is lost only when the process dies before a flush (DynamoDB stays the record).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::{MetricDatum, StandardUnit};
use edalab_domain::order::OrderStatus;
use edalab_services::intake::OrderCounts;

/// The namespace the counts go under unless configured otherwise.
pub const DEFAULT_NAMESPACE: &str = "edalab";

/// The seed's metric name of each status.
pub fn metric_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Processed => "OrdersProcessed",
        OrderStatus::Rejected => "OrdersRejected",
        OrderStatus::Duplicate => "OrdersDuplicate",
    }
}

/// [`OrderCounts`] sent to CloudWatch.
pub struct CloudWatchCounts {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    pending: Mutex<BTreeMap<&'static str, u64>>,
}

impl CloudWatchCounts {
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            pending: Mutex::default(),
        }
    }

    /// The namespace the counts go under.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn take(&self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn give_back(&self, counts: BTreeMap<&'static str, u64>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, n) in counts {
            *pending.entry(name).or_default() += n;
        }
    }
}

#[async_trait]
impl OrderCounts for CloudWatchCounts {
    fn add(&self, status: OrderStatus) {
        *self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(metric_name(status))
            .or_default() += 1;
    }

    async fn flush(&self) -> Result<(), String> {
        let counts = self.take();
        if counts.is_empty() {
            return Ok(());
        }
        let data = counts
            .iter()
            .map(|(name, n)| {
                MetricDatum::builder()
                    .metric_name(*name)
                    .unit(StandardUnit::Count)
                    .value(*n as f64)
                    .build()
            })
            .collect();
        let sent = self
            .client
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => {
                self.give_back(counts);
                Err(format!(
                    "CloudWatch PutMetricData in `{}`: {}",
                    self.namespace,
                    DisplayErrorContext(e)
                ))
            }
        }
    }
}
