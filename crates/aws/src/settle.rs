//! Settling a handled batch on SQS (`docs/adr/026-aws-profile.md` §3), shared by the in-process
//! worker and (later) the Lambda adapter:
//! - `Done` → deleted (`DeleteMessageBatch`);
//! - `Retry` → visible again after the retry policy's delay for that receive, in whole seconds
//!   (at least 1: SQS counts seconds);
//! - `Reject` → visible again at once, so SQS's redrive policy moves it to the DLQ after
//!   `maxReceiveCount` receives — never a send to the DLQ by us;
//! - a failure on the last receive (`receive count >= maxReceiveCount`) is the last one: the
//!   consumer's `on_dead_letter` is called before the message is made visible again, and the
//!   next receive moves it.
//!
//! [`plan`] decides (pure, tested without SQS); [`apply`] makes the calls.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
};
use edalab_bus::runtime::{Outcome, RetryPolicy};
use rand::Rng;

/// What to do with one handled (or released) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Delete,
    /// Visible again after this many seconds (0: at once).
    Visible {
        seconds: u32,
    },
}

/// The fate of one message and, for a last failure, its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// `Some(reason)` when this failure was the last receive allowed: the message goes to the
    /// DLQ at its next receive.
    pub last_failure: Option<String>,
}

/// Decides the fate of a message received `receive_count` times whose handler said
/// `outcome`, on a queue that allows `receive_count_max` receives.
pub fn plan(
    outcome: &Outcome,
    receive_count: u32,
    receive_count_max: u32,
    retry: &RetryPolicy,
    rng: &mut impl Rng,
) -> Decision {
    let last = receive_count >= receive_count_max;
    match outcome {
        Outcome::Done => Decision {
            action: Action::Delete,
            last_failure: None,
        },
        Outcome::Retry(reason) | Outcome::Reject(reason) if last => Decision {
            // Its fate is sealed: no reason to wait before SQS moves it.
            action: Action::Visible { seconds: 0 },
            last_failure: Some(reason.clone()),
        },
        Outcome::Retry(_) => Decision {
            action: Action::Visible {
                seconds: retry_seconds(retry, receive_count, rng),
            },
            last_failure: None,
        },
        Outcome::Reject(_) => Decision {
            action: Action::Visible { seconds: 0 },
            last_failure: None,
        },
    }
}

/// The retry policy's jittered delay after `failures` failures, rounded up to whole seconds,
/// at least 1.
pub fn retry_seconds(retry: &RetryPolicy, failures: u32, rng: &mut impl Rng) -> u32 {
    let delay_ms = retry.delay(failures, rng).as_millis();
    let seconds = delay_ms.div_ceil(1_000).max(1);
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// What [`apply`] managed: messages deleted, made visible, and the calls SQS refused (their
/// messages come back after their visibility timeout: at least once, never lost).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub deleted: usize,
    pub made_visible: usize,
    pub failures: Vec<String>,
}

/// Deletes and changes visibility of up to 10 messages each (one batch), by receipt handle.
pub async fn apply(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    actions: &[(String, Action)],
) -> Applied {
    let mut applied = Applied::default();
    let deletes: Vec<DeleteMessageBatchRequestEntry> = actions
        .iter()
        .enumerate()
        .filter(|(_, (_, action))| *action == Action::Delete)
        .filter_map(|(i, (handle, _))| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .ok()
        })
        .collect();
    let changes: Vec<ChangeMessageVisibilityBatchRequestEntry> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, (handle, action))| match action {
            Action::Visible { seconds } => ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .visibility_timeout(i32::try_from(*seconds).unwrap_or(i32::MAX))
                .build()
                .ok(),
            Action::Delete => None,
        })
        .collect();
    for chunk in deletes.chunks(BATCH_ENTRIES_MAX) {
        let sent = client
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(chunk.to_vec()))
            .send()
            .await
            .map(|out| (out.successful().len(), refused("delete", out.failed())));
        applied.deleted += tally("delete", sent, &mut applied.failures);
    }
    for chunk in changes.chunks(BATCH_ENTRIES_MAX) {
        let what = "change visibility";
        let sent = client
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(chunk.to_vec()))
            .send()
            .await
            .map(|out| (out.successful().len(), refused(what, out.failed())));
        applied.made_visible += tally(what, sent, &mut applied.failures);
    }
    applied
}

/// Entries of one SQS batch call.
pub const BATCH_ENTRIES_MAX: usize = 10;

/// How many entries one batch call applied; what SQS refused, or the call's error, goes to
/// `failures`.
fn tally<E: std::error::Error>(
    what: &str,
    sent: Result<(usize, Vec<String>), E>,
    failures: &mut Vec<String>,
) -> usize {
    match sent {
        Ok((applied, refused)) => {
            failures.extend(refused);
            applied
        }
        Err(e) => {
            failures.push(format!("{what}: {}", DisplayErrorContext(e)));
            0
        }
    }
}

fn refused(what: &str, failed: &[aws_sdk_sqs::types::BatchResultErrorEntry]) -> Vec<String> {
    failed
        .iter()
        .map(|f| {
            format!(
                "{what} of entry {}: {} {}",
                f.id(),
                f.code(),
                f.message().unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn outcomes_map_to_sqs_actions() {
        let retry = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut decide = |outcome: Outcome, count: u32| plan(&outcome, count, 3, &retry, &mut rng);
        assert_eq!(decide(Outcome::Done, 3).action, Action::Delete);
        let reject = decide(Outcome::reject("bad"), 1);
        assert_eq!(reject.action, Action::Visible { seconds: 0 });
        assert_eq!(reject.last_failure, None);
        let retry_first = decide(Outcome::retry("down"), 1);
        assert_eq!(retry_first.action, Action::Visible { seconds: 1 });
        for outcome in [Outcome::retry("down"), Outcome::reject("bad")] {
            let last = decide(outcome, 3);
            assert_eq!(last.action, Action::Visible { seconds: 0 });
            assert!(last.last_failure.is_some());
        }
    }

    #[test]
    fn retry_delays_round_up_to_whole_seconds() {
        let retry = RetryPolicy {
            attempts_max: 10,
            retry_delay_ms_base: 1_500,
            retry_delay_ms_max: 30_000,
        };
        let mut rng = StdRng::seed_from_u64(7);
        for failures in 1..12 {
            let seconds = retry_seconds(&retry, failures, &mut rng);
            let ceiling = retry.delay_ms_ceiling(failures).div_ceil(1_000).max(1);
            assert!(
                (1..=ceiling).contains(&u64::from(seconds)),
                "{failures}: {seconds}"
            );
        }
    }
}
