//! The consumer runtime's test helpers: a handler whose behaviour per key is scripted, a
//! runtime running in a task, a fast-retry configuration, and a paused-clock wait. The bus
//! they run over is `edalab_bus::testing`'s in-memory one, re-exported here.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::port::{ConsumerConfig, Message};
use edalab_bus::runtime::{Handler, Outcome};
pub use edalab_bus::testing::{Event, FakeBus, key_text};
use tokio::time::Instant;

/// What [`ScriptedHandler`] does with a key.
#[derive(Clone, Debug)]
pub enum Script {
    /// Always `Retry`.
    Poison,
    /// Always `Reject`.
    Reject,
    /// `Retry` this many times, then `Done`.
    FailTimes(u32),
    /// Panics this many times, then `Done`.
    PanicTimes(u32),
}

/// A per-message handler whose behaviour per key is scripted; anything else is `Done`.
/// Every call is written to the bus journal.
pub struct ScriptedHandler {
    pub journal: Arc<Mutex<Vec<Event>>>,
    pub scripts: BTreeMap<String, Script>,
    calls: Mutex<BTreeMap<String, u32>>,
}

impl ScriptedHandler {
    pub fn new(bus: &FakeBus, scripts: &[(&str, Script)]) -> Self {
        Self {
            journal: bus.journal(),
            scripts: scripts
                .iter()
                .map(|(k, s)| ((*k).to_owned(), s.clone()))
                .collect(),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    fn decide(&self, key: &str) -> Outcome {
        let calls = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(key.to_owned()).or_default();
            *n += 1;
            *n
        };
        match self.scripts.get(key) {
            None => Outcome::Done,
            Some(Script::Poison) => Outcome::retry(format!("{key} is poison")),
            Some(Script::Reject) => Outcome::reject(format!("{key} is invalid")),
            Some(Script::FailTimes(n)) if calls <= *n => Outcome::retry("flaky dependency"),
            Some(Script::FailTimes(_)) => Outcome::Done,
            Some(Script::PanicTimes(n)) if calls <= *n => panic!("scripted panic for {key}"),
            Some(Script::PanicTimes(_)) => Outcome::Done,
        }
    }
}

#[async_trait]
impl Handler for ScriptedHandler {
    async fn handle(&self, message: &Message) -> Outcome {
        let key = key_text(&message.key);
        let outcome = self.decide(&key);
        self.journal.lock().unwrap().push(Event::Handled {
            topic: message.topic.to_string(),
            partition: message.partition,
            offset: message.offset,
            key,
            outcome: outcome.clone(),
        });
        outcome
    }
}

/// Waits (in tokio time, paused in tests) until `condition` holds, for at most 10 virtual
/// minutes.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A runtime configuration for tests: fast retries, seeded jitter.
pub fn test_config(
    group: &str,
    topics: &[&str],
    dlq: edalab_bus::runtime::DlqRouting,
) -> edalab_bus::runtime::RuntimeConfig {
    let consumer = ConsumerConfig::new(group, topics.iter().map(|t| (*t).to_owned()).collect());
    let mut config = edalab_bus::runtime::RuntimeConfig::new(consumer, dlq);
    config.retry = edalab_bus::runtime::RetryPolicy {
        attempts_max: 3,
        retry_delay_ms_base: 100,
        retry_delay_ms_max: 1_000,
    };
    config.poll_timeout_ms = 100;
    config.jitter_seed = Some(42);
    config
}

/// A runtime running in a task, with its shutdown trigger.
pub struct Running {
    pub shutdown: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<
        Result<edalab_bus::runtime::RunSummary, edalab_bus::runtime::RuntimeError>,
    >,
    pub stats: Arc<edalab_bus::runtime::RuntimeStats>,
}

impl Running {
    pub fn spawn<H: edalab_bus::runtime::BatchHandler + 'static>(
        runtime: edalab_bus::runtime::ConsumerRuntime<H>,
    ) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stats = runtime.stats();
        let task = tokio::spawn(runtime.run(async move {
            let _ = rx.await;
        }));
        Self {
            shutdown: tx,
            task,
            stats,
        }
    }

    pub async fn stop(self) -> edalab_bus::runtime::RunSummary {
        let _ = self.shutdown.send(());
        self.task.await.expect("runtime task").expect("runtime run")
    }
}
