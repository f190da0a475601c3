//! Several members of one consumer group in one process, under control (issue 22, ADR 032):
//! scale to N members, pause (every member drains, commits and leaves the group), resume.
//! Each member is a whole [`super::ConsumerRuntime`] with its own bus consumer, so the
//! members split the partitions exactly as separate processes would (the embedded log's
//! range assignor, or the Kafka broker's), and a member that leaves hands over its committed
//! position.
//!
//! A pool is built, then [`MemberPool::begin`] starts its members. The pool knows nothing of handlers: a [`MemberFactory`] builds each member's run from the
//! future that tells it to stop. Control calls are serialised; each returns once the change
//! is done (members started, or drained and gone). A member that fails ends nothing here:
//! [`MemberPool::failed`] reports it and the owner decides (the process stops, as with one
//! runtime).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::handler::panic_reason;
use super::lag::{RuntimeStats, StatsSnapshot};
use super::{RunSummary, RuntimeError};
use crate::port::{ConsumerConfig, TopicPartition};

/// Most members one pool runs (more than any topic's partitions only adds idle members).
pub const MEMBERS_MAX: usize = 16;

/// One member's run, as a [`MemberFactory`] builds it.
pub type MemberRun = BoxFuture<'static, Result<RunSummary, RuntimeError>>;

/// Builds one member: given the future that completes when it must stop, its counters and
/// its run (a [`super::ConsumerRuntime::run`]).
pub trait MemberFactory: Send + Sync + 'static {
    fn member(&self, stop: BoxFuture<'static, ()>) -> (Arc<RuntimeStats>, MemberRun);
}

impl<F> MemberFactory for F
where
    F: Fn(BoxFuture<'static, ()>) -> (Arc<RuntimeStats>, MemberRun) + Send + Sync + 'static,
{
    fn member(&self, stop: BoxFuture<'static, ()>) -> (Arc<RuntimeStats>, MemberRun) {
        self(stop)
    }
}

/// A member that ended with an error or a panic.
#[derive(Clone, Debug, thiserror::Error)]
#[error("member {member} of consumer group `{group}` {reason}")]
pub struct MemberFailure {
    pub group: String,
    pub member: u64,
    pub reason: String,
}

/// A control call that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("members must be an integer between 1 and {MEMBERS_MAX}, not {0}")]
    MembersOutOfRange(usize),
    #[error("the process is stopping: its consumers are not restarted")]
    Stopping,
}

/// One running member, as [`MemberPool::status`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// Numbered from 1 in start order; a member started after a pause gets a new number.
    pub member: u64,
    /// What it holds now (empty until its first poll after joining, or when there are more
    /// members than partitions).
    pub partitions: Vec<TopicPartition>,
    pub stats: StatsSnapshot,
}

/// The pool at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub group: String,
    /// The topics the group reads.
    pub topics: Vec<String>,
    pub paused: bool,
    /// Members it runs when not paused.
    pub members_target: usize,
    pub members: Vec<MemberStatus>,
}

struct Member {
    id: u64,
    stats: Arc<RuntimeStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), MemberFailure>>,
}

struct PoolState {
    target: usize,
    paused: bool,
    next_id: u64,
    members: Vec<Member>,
}

/// The members of one group in this process. Build with [`MemberPool::new`], then
/// [`MemberPool::begin`].
pub struct MemberPool {
    group: String,
    topics: Vec<String>,
    factory: Box<dyn MemberFactory>,
    /// The process's stop signal: every member stops when it turns true.
    process_stop: watch::Receiver<bool>,
    /// Serialises control calls (a scale waits for the members it stops to drain).
    control: tokio::sync::Mutex<()>,
    state: Mutex<PoolState>,
    failures: mpsc::UnboundedSender<MemberFailure>,
    failed: tokio::sync::Mutex<mpsc::UnboundedReceiver<MemberFailure>>,
}

impl MemberPool {
    /// A pool of `members` members (clamped to 1..=[`MEMBERS_MAX`]) of the group `consumer`
    /// names, over its topics, none started yet; all stop when `process_stop` turns true (or
    /// its sender is dropped). `factory` builds each member (with the same `consumer`).
    pub fn new(
        consumer: &ConsumerConfig,
        members: usize,
        factory: impl MemberFactory,
        process_stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let (failures, failed) = mpsc::unbounded_channel();
        Arc::new(Self {
            group: consumer.group.clone(),
            topics: consumer.topics.clone(),
            factory: Box::new(factory),
            process_stop,
            control: tokio::sync::Mutex::new(()),
            state: Mutex::new(PoolState {
                target: members.clamp(1, MEMBERS_MAX),
                paused: false,
                next_id: 1,
                members: Vec::new(),
            }),
            failures,
            failed: tokio::sync::Mutex::new(failed),
        })
    }

    /// Starts the members (once; later calls find them running).
    pub fn begin(&self) {
        self.fill();
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Runs `members` members from now on: starts the missing ones (unless paused), or
    /// stops the newest extra ones and waits for them to drain, commit and leave.
    pub async fn scale(&self, members: usize) -> Result<PoolStatus, ControlError> {
        if !(1..=MEMBERS_MAX).contains(&members) {
            return Err(ControlError::MembersOutOfRange(members));
        }
        let _control = self.control.lock().await;
        let leaving = {
            let mut state = self.state();
            state.target = members;
            let keep = state.members.len().min(members);
            state.members.split_off(keep)
        };
        drain(leaving).await;
        self.refuse_if_stopping()?;
        self.fill();
        Ok(self.status())
    }

    /// Stops every member (each finishes what it fetched, commits and leaves the group);
    /// the group's records wait in the log until [`MemberPool::resume`].
    pub async fn pause(&self) -> PoolStatus {
        let _control = self.control.lock().await;
        let leaving = {
            let mut state = self.state();
            state.paused = true;
            std::mem::take(&mut state.members)
        };
        drain(leaving).await;
        self.status()
    }

    /// Starts the target number of members again; they resume from the committed positions.
    pub async fn resume(&self) -> Result<PoolStatus, ControlError> {
        let _control = self.control.lock().await;
        self.refuse_if_stopping()?;
        self.state().paused = false;
        self.fill();
        Ok(self.status())
    }

    pub fn status(&self) -> PoolStatus {
        let state = self.state();
        PoolStatus {
            group: self.group.clone(),
            topics: self.topics.clone(),
            paused: state.paused,
            members_target: state.target,
            members: state
                .members
                .iter()
                .map(|m| MemberStatus {
                    member: m.id,
                    partitions: m.stats.assignment(),
                    stats: m.stats.snapshot(),
                })
                .collect(),
        }
    }

    /// Completes when a member fails (never while they all run or stop cleanly).
    pub async fn failed(&self) -> MemberFailure {
        match self.failed.lock().await.recv().await {
            Some(failure) => failure,
            // Unreachable: the pool holds a sender.
            None => std::future::pending().await,
        }
    }

    /// After the process's stop signal: waits for every member to drain, commit and leave;
    /// the first failure, if any.
    pub async fn join(&self) -> Result<(), MemberFailure> {
        let _control = self.control.lock().await;
        let members = std::mem::take(&mut self.state().members);
        let mut first = Ok(());
        for member in members {
            let ended = member.task.await.unwrap_or_else(|error| {
                Err(self.failure(member.id, format!("task ended abnormally: {error}")))
            });
            if first.is_ok() {
                first = ended;
            }
        }
        first
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse_if_stopping(&self) -> Result<(), ControlError> {
        if *self.process_stop.borrow() {
            return Err(ControlError::Stopping);
        }
        Ok(())
    }

    fn failure(&self, member: u64, reason: String) -> MemberFailure {
        MemberFailure {
            group: self.group.clone(),
            member,
            reason,
        }
    }

    /// Starts members up to the target unless paused or stopping.
    fn fill(&self) {
        let mut state = self.state();
        if state.paused || *self.process_stop.borrow() {
            return;
        }
        while state.members.len() < state.target {
            let id = state.next_id;
            state.next_id += 1;
            let member = self.spawn(id);
            state.members.push(member);
        }
    }

    fn spawn(&self, id: u64) -> Member {
        let (stop, own) = watch::channel(false);
        let process = self.process_stop.clone();
        let stopped = async move {
            tokio::select! {
                _ = turned_true(own) => {}
                _ = turned_true(process) => {}
            }
        };
        let (stats, run) = self.factory.member(stopped.boxed());
        let failures = self.failures.clone();
        let failure = self.failure(id, String::new());
        let task = tokio::spawn(async move {
            let reason = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(Ok(_summary)) => return Ok(()),
                Ok(Err(error)) => format!("failed: {error}"),
                Err(panic) => format!("panicked: {}", panic_reason(panic.as_ref())),
            };
            let failure = MemberFailure { reason, ..failure };
            tracing::error!(%failure, "consumer group member ended");
            // The receiver lives as long as the pool; a dropped pool has no one to tell.
            let _ = failures.send(failure.clone());
            Err(failure)
        });
        tracing::info!(group = %self.group, member = id, "consumer group member started");
        Member {
            id,
            stats,
            stop,
            task,
        }
    }
}

/// Tells `members` to stop and waits for each to drain, commit and leave; failures were
/// already reported to [`MemberPool::failed`].
async fn drain(members: Vec<Member>) {
    for member in &members {
        // A member whose task already ended has dropped its receiver: nothing to tell.
        let _ = member.stop.send(true);
    }
    for member in members {
        if let Err(error) = member.task.await {
            tracing::error!(%error, member = member.id, "consumer group member task ended abnormally");
        }
    }
}

/// Completes when `signal` turns true or its sender is gone.
async fn turned_true(mut signal: watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}
