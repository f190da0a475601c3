//! The WebSocket hub (S3-12): bus topics fanned out to many WebSocket clients.
//!
//! - **One tail per topic**, shared by every client: a consumer in a private group
//!   (`edalab.gateway.ws.<instance>.<topic>`, never committed) pinned to the high
//!   watermark when the first client subscribes, so it shows what happens from then on.
//!   A tail stops when no client wants its topic any more.
//! - **Each message is rendered once** (JSON text) and handed to each interested client
//!   with `try_send` into the client's bounded queue (`ws.client_buffer_messages_max`).
//!   A full queue means the client is slow: the event is dropped *for that client only*
//!   and counted; the client is told (`status`, "lagging, N dropped") before its next event,
//!   and disconnected once `ws.client_dropped_messages_max` drops pile up without it
//!   catching up. Nothing a client does can slow a tail, the bus or another client.
//!
//! - **No client holds a slot it does not use**: a frame the client does not take within
//!   `security.ws_send_timeout_ms` disconnects it (see [`crate::ws`]), and one IP address
//!   holds at most `security.ws_clients_per_ip_max` of the `ws.clients_max` slots.
//!
//! The hub owns no socket: [`crate::ws`] moves frames between a socket and a [`Client`].

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use edalab_bus::port::{Bus, BusError, Consumer, ConsumerConfig, StartFrom};
use edalab_schema::SchemaCatalog;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::WsConfig;
use crate::payload;
use crate::telemetry::events::{
    ConsumedAt, Failure, MessageConsumed, MessageProcessed, ProcessingFailed,
};
use crate::telemetry::{self, metrics as m};

/// Prefix of the hub's private consumer groups (left out of the lag metrics).
pub const WS_GROUP_PREFIX: &str = "edalab.gateway.ws.";
/// The service name the hub reports in metrics.
pub const SERVICE: &str = "gateway";
/// Pause after a failed poll before the tail tries again.
const TAIL_RETRY_DELAY_MS: u64 = 1_000;
/// How often topics created after a `"*"` subscription are picked up.
const TOPICS_REFRESH_MS: u64 = 2_000;

/// Why the hub refused something.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("too many WebSocket clients ({0} connected)")]
    Full(usize),
    #[error("too many WebSocket connections from {ip} (at most {max})")]
    TooManyFromAddress { ip: IpAddr, max: usize },
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("no topics given")]
    NoTopics,
    #[error("too many topics: {count} (at most {max} per client)")]
    TooManyTopics { count: usize, max: usize },
    #[error("the hub is shutting down")]
    Closed,
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl HubError {
    /// The stable code sent to clients in `error` messages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Full(_) => "too_many_clients",
            Self::TooManyFromAddress { .. } => "too_many_connections_from_address",
            Self::UnknownTopic(_) => "unknown_topic",
            Self::NoTopics => "no_topics",
            Self::TooManyTopics { .. } => "too_many_topics",
            Self::Closed => "shutting_down",
            Self::Bus(_) => "bus_error",
        }
    }
}

/// The hub's limits against clients that hold slots (ADR 018).
#[derive(Clone, Copy, Debug)]
pub struct HubLimits {
    /// A frame the client does not take within this time disconnects it.
    pub send_timeout: Duration,
    /// Connections at most from one IP address.
    pub clients_per_ip_max: usize,
}

impl HubLimits {
    pub fn of(security: &crate::security::SecurityConfig) -> Self {
        Self {
            send_timeout: Duration::from_millis(security.ws_send_timeout_ms),
            clients_per_ip_max: security.ws_clients_per_ip_max,
        }
    }
}

/// The hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    bus: Arc<dyn Bus>,
    catalog: Arc<SchemaCatalog>,
    config: WsConfig,
    limits: HubLimits,
    /// `edalab.gateway.ws.<instance>.`: private to this process.
    group_prefix: String,
    /// Std lock: held only to read or edit the map, never across an await.
    clients: RwLock<HashMap<u64, Arc<ClientSlot>>>,
    next_client_id: AtomicU64,
    /// Tokio lock: held while a tail's consumer is created (an await), so two subscribes
    /// to a new topic start one tail.
    tails: tokio::sync::Mutex<HashMap<String, JoinHandle<()>>>,
    closed: watch::Sender<bool>,
    /// Whether the task that tails new topics for `"*"` clients runs.
    refresher_started: AtomicBool,
}

/// A client's state shared between the hub (which fills its queue) and its connection.
pub struct ClientSlot {
    id: u64,
    /// Where the client connects from, when known.
    ip: Option<IpAddr>,
    events: mpsc::Sender<Utf8Bytes>,
    topics: RwLock<HashSet<String>>,
    all_topics: AtomicBool,
    /// Dropped since the client was last told.
    dropped_untold: AtomicU64,
    dropped_total: AtomicU64,
    kicked: AtomicBool,
    kick: Notify,
}

impl ClientSlot {
    fn wants(&self, topic: &str) -> bool {
        self.all_topics.load(Ordering::Relaxed)
            || self
                .topics
                .read()
                .map(|t| t.contains(topic))
                .unwrap_or(false)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Events dropped for this client and not yet reported to it; resets the count.
    pub fn take_dropped_untold(&self) -> u64 {
        self.dropped_untold.swap(0, Ordering::Relaxed)
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Resolves when the hub decided this client is too slow to keep.
    pub async fn kicked(&self) {
        self.kick.notified().await;
    }
}

/// One connected client: its queue of rendered events and its slot. Dropping it
/// unregisters the client.
pub struct Client {
    hub: Hub,
    pub slot: Arc<ClientSlot>,
    pub events: mpsc::Receiver<Utf8Bytes>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let count = match self.hub.inner.clients.write() {
            Ok(mut clients) => {
                clients.remove(&self.slot.id);
                clients.len()
            }
            Err(_) => return,
        };
        m::ws_clients(count);
    }
}

impl Hub {
    pub fn new(
        bus: Arc<dyn Bus>,
        catalog: Arc<SchemaCatalog>,
        config: WsConfig,
        limits: HubLimits,
    ) -> Self {
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let (closed, _) = watch::channel(false);
        Self {
            inner: Arc::new(HubInner {
                bus,
                catalog,
                config,
                limits,
                group_prefix: format!("{WS_GROUP_PREFIX}{}.", &instance[..12]),
                clients: RwLock::new(HashMap::new()),
                next_client_id: AtomicU64::new(1),
                tails: tokio::sync::Mutex::new(HashMap::new()),
                closed,
                refresher_started: AtomicBool::new(false),
            }),
        }
    }

    pub fn config(&self) -> &WsConfig {
        &self.inner.config
    }

    pub fn limits(&self) -> &HubLimits {
        &self.inner.limits
    }

    /// Registers a new client connecting from `ip` (when known).
    pub fn connect(&self, ip: Option<IpAddr>) -> Result<Client, HubError> {
        if *self.inner.closed.borrow() {
            return Err(HubError::Closed);
        }
        let (tx, rx) = mpsc::channel(self.inner.config.client_buffer_messages_max);
        let slot = Arc::new(ClientSlot {
            id: self.inner.next_client_id.fetch_add(1, Ordering::Relaxed),
            ip,
            events: tx,
            topics: RwLock::new(HashSet::new()),
            all_topics: AtomicBool::new(false),
            dropped_untold: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            kicked: AtomicBool::new(false),
            kick: Notify::new(),
        });
        let count = {
            let mut clients = self.inner.clients.write().map_err(|_| HubError::Closed)?;
            if clients.len() >= self.inner.config.clients_max {
                return Err(HubError::Full(clients.len()));
            }
            let max = self.inner.limits.clients_per_ip_max;
            if let Some(ip) = ip
                && clients.values().filter(|c| c.ip == Some(ip)).count() >= max
            {
                return Err(HubError::TooManyFromAddress { ip, max });
            }
            clients.insert(slot.id, Arc::clone(&slot));
            clients.len()
        };
        m::ws_clients(count);
        Ok(Client {
            hub: self.clone(),
            slot,
            events: rx,
        })
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.inner.clients.read().map(|c| c.len()).unwrap_or(0)
    }

    /// Topics with a running tail.
    pub async fn tailed_topics(&self) -> Vec<String> {
        let tails = self.inner.tails.lock().await;
        let mut topics: Vec<String> = tails
            .iter()
            .filter(|(_, task)| !task.is_finished())
            .map(|(topic, _)| topic.clone())
            .collect();
        topics.sort();
        topics
    }

    /// Subscribes `client` to `topics` (`"*"`: every topic) and returns the topics now
    /// tailed for it. When this returns, every message produced from then on to those
    /// topics reaches the client (unless it is too slow).
    pub async fn subscribe(
        &self,
        client: &ClientSlot,
        topics: &[String],
    ) -> Result<Vec<String>, HubError> {
        if *self.inner.closed.borrow() {
            return Err(HubError::Closed);
        }
        if topics.is_empty() {
            return Err(HubError::NoTopics);
        }
        let known = self.inner.bus.list_topics().await?;
        let everything = topics.iter().any(|t| t == "*");
        let wanted: Vec<String> = if everything {
            known.clone()
        } else {
            let max = self.inner.config.topics_per_client_max;
            let current = client.topics.read().map(|t| t.len()).unwrap_or(0);
            let new: HashSet<&String> = topics.iter().collect();
            if current + new.len() > max {
                return Err(HubError::TooManyTopics {
                    count: current + new.len(),
                    max,
                });
            }
            if let Some(unknown) = topics.iter().find(|t| !known.contains(t)) {
                return Err(HubError::UnknownTopic(unknown.clone()));
            }
            new.into_iter().cloned().collect()
        };
        // Interest first, then the tails: a tail that is about to stop for lack of
        // subscribers re-checks under the tails lock and sees this client.
        if everything {
            client.all_topics.store(true, Ordering::Relaxed);
            if !self.inner.refresher_started.swap(true, Ordering::Relaxed) {
                tokio::spawn(refresh_topics(self.clone()));
            }
        } else if let Ok(mut set) = client.topics.write() {
            set.extend(wanted.iter().cloned());
        }
        for topic in &wanted {
            self.ensure_tail(topic).await?;
        }
        let mut subscribed = if client.all_topics.load(Ordering::Relaxed) {
            known
        } else {
            client
                .topics
                .read()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default()
        };
        subscribed.sort();
        Ok(subscribed)
    }

    /// Unsubscribes `client` from `topics` (`"*"`: from everything). Returns what is left.
    pub fn unsubscribe(&self, client: &ClientSlot, topics: &[String]) -> Vec<String> {
        if let Ok(mut set) = client.topics.write() {
            if topics.iter().any(|t| t == "*") {
                client.all_topics.store(false, Ordering::Relaxed);
                set.clear();
            } else {
                for topic in topics {
                    set.remove(topic);
                }
            }
            let mut left: Vec<String> = set.iter().cloned().collect();
            left.sort();
            return left;
        }
        Vec::new()
    }

    /// Stops every tail and tells every connection to close.
    pub async fn close(&self) {
        self.inner.closed.send_replace(true);
        let tails: Vec<JoinHandle<()>> = {
            let mut tails = self.inner.tails.lock().await;
            tails.drain().map(|(_, task)| task).collect()
        };
        for task in tails {
            let _ = task.await;
        }
    }

    /// Resolves when [`Hub::close`] is called.
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    async fn ensure_tail(&self, topic: &str) -> Result<(), HubError> {
        let mut tails = self.inner.tails.lock().await;
        if tails.get(topic).is_some_and(|task| !task.is_finished()) {
            return Ok(());
        }
        let mut config = ConsumerConfig::new(
            format!("{}{topic}", self.inner.group_prefix),
            vec![topic.to_owned()],
        );
        config.start_from = StartFrom::Latest;
        config.poll_records_max = self.inner.config.poll_records_max;
        let mut consumer = self.inner.bus.consumer(config).await?;
        // Pin every assigned partition to the high watermark now, so a message produced
        // after the subscription is acknowledged is never missed, however the backend
        // resolves `Latest` (at join or at first poll).
        let description = self.inner.bus.describe_topic(topic).await?;
        for tp in consumer.assignment() {
            if let Some(p) = description
                .partitions
                .iter()
                .find(|p| p.partition == tp.partition)
            {
                consumer.seek(&tp, p.high_watermark).await?;
            }
        }
        let task = tokio::spawn(run_tail(
            Arc::clone(&self.inner),
            topic.to_owned(),
            consumer,
        ));
        tails.insert(topic.to_owned(), task);
        Ok(())
    }
}

impl HubInner {
    fn recipients(&self, topic: &str) -> Vec<Arc<ClientSlot>> {
        self.clients
            .read()
            .map(|clients| {
                clients
                    .values()
                    .filter(|c| c.wants(topic))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn deliver(&self, recipients: &[Arc<ClientSlot>], text: &Utf8Bytes) {
        let dropped_max = self.config.client_dropped_messages_max;
        for client in recipients {
            match client.events.try_send(text.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let untold = client.dropped_untold.fetch_add(1, Ordering::Relaxed) + 1;
                    client.dropped_total.fetch_add(1, Ordering::Relaxed);
                    m::ws_dropped(1);
                    if dropped_max > 0
                        && untold >= dropped_max
                        && !client.kicked.swap(true, Ordering::Relaxed)
                    {
                        tracing::warn!(
                            client = client.id,
                            dropped = untold,
                            "disconnecting a WebSocket client that does not keep up"
                        );
                        m::ws_disconnected("too_slow");
                        client.kick.notify_one();
                    }
                }
                // The connection is going away; its slot is removed when it is dropped.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// Tails topics created after a `"*"` subscription, while some client wants everything.
async fn refresh_topics(hub: Hub) {
    let mut closed = hub.inner.closed.subscribe();
    loop {
        tokio::select! {
            _ = closed.changed() => break,
            _ = tokio::time::sleep(Duration::from_millis(TOPICS_REFRESH_MS)) => {}
        }
        let wants_all = hub
            .inner
            .clients
            .read()
            .map(|c| c.values().any(|c| c.all_topics.load(Ordering::Relaxed)))
            .unwrap_or(false);
        if !wants_all {
            continue;
        }
        match hub.inner.bus.list_topics().await {
            Ok(topics) => {
                for topic in topics {
                    if let Err(error) = hub.ensure_tail(&topic).await {
                        tracing::debug!(topic, %error, "cannot tail a new topic");
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "cannot list topics for \"*\" clients"),
        }
    }
}

/// The labels of a tail's series: the hub's groups are per instance, one label for all.
fn tail_at(topic: &str) -> ConsumedAt<'_> {
    ConsumedAt {
        service: SERVICE,
        group: WS_GROUP_LABEL,
        topic,
    }
}

/// The `group` label of the tails' series.
const WS_GROUP_LABEL: &str = "edalab.gateway.ws";

async fn run_tail(inner: Arc<HubInner>, topic: String, mut consumer: Box<dyn Consumer>) {
    let mut closed = inner.closed.subscribe();
    let poll_timeout = Duration::from_millis(inner.config.poll_timeout_ms);
    tracing::debug!(topic, "WebSocket tail started");
    loop {
        if *closed.borrow() {
            break;
        }
        let polled = tokio::select! {
            _ = closed.changed() => break,
            polled = consumer.poll(poll_timeout) => polled,
        };
        match polled {
            Ok(messages) if !messages.is_empty() => {
                let started = Instant::now();
                let recipients = inner.recipients(&topic);
                for message in &messages {
                    MessageConsumed {
                        at: tail_at(&topic),
                        latency: telemetry::age_of(message.timestamp_ms),
                        bytes: telemetry::message_bytes(message),
                    }
                    .emit();
                    if !recipients.is_empty() {
                        let text = Utf8Bytes::from(payload::event_text(&inner.catalog, message));
                        inner.deliver(&recipients, &text);
                    }
                }
                MessageProcessed {
                    at: tail_at(&topic),
                    elapsed: started.elapsed(),
                }
                .emit();
            }
            Ok(_) => {}
            Err(error) => {
                ProcessingFailed {
                    at: tail_at(&topic),
                    offset: None,
                    failure: Failure::Poll,
                    reason: &error.to_string(),
                }
                .emit();

                tokio::select! {
                    _ = closed.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(TAIL_RETRY_DELAY_MS)) => {}
                }
            }
        }
        if inner.recipients(&topic).is_empty() {
            let mut tails = inner.tails.lock().await;
            // Re-checked under the lock: a subscribe registers interest before it takes
            // this lock, so either it is seen here or it starts a new tail after us.
            if inner.recipients(&topic).is_empty() {
                tails.remove(&topic);
                break;
            }
        }
    }
    if let Err(error) = consumer.close().await {
        tracing::debug!(topic, %error, "closing a WebSocket tail's consumer");
    }
    tracing::debug!(topic, "WebSocket tail stopped");
}
