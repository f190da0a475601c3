//! The gateway: the HTTP face of edalab (S3-11..S3-13).
//!
//! - [`config`]: the gateway's sections of the process configuration ([`GatewaySettings`]);
//! - [`router`]: the axum [`Router`](axum::Router) — `/api/v1/health`, `/api/v1/openapi.json`,
//!   `/metrics`, `/ws`, the web UI, and the services' routers mounted in it — with its HTTP
//!   hygiene layers, and [`serve`];
//! - [`hub`] and [`ws`]: live bus events to WebSocket clients, bounded per client;
//! - [`error`]: the JSON error shape every route answers;
//! - [`health`]: aggregated health of the bus, the store and the services;
//! - [`dlq`]: dead-letter queues over REST — list, depth, redrive;
//! - [`forward`]: `/api/v1/simulation/*` and `/api/v1/bancaire/*` forwarded to other
//!   processes (`edalab serve`), with 503/504 JSON when they are down or slow;
//! - [`telemetry`]: the `edalab-telemetry` crate (below the services, which use it too),
//!   re-exported under its old path;
//! - [`payload`]: bus messages rendered as JSON;
//! - [`registry`]: the Confluent-compatible schema registry API under `/registry/`;
//! - [`security`]: `Host`, `Origin`, bearer tokens and media types checked before any
//!   handler, and the last-resort panic layer (ADR 018);
//! - [`server`]: the accept loop, with a header-read timeout;
//! - [`ui`]: the web UI built into the binary at compile time (ADR 022);
//! - [`launch`]: start, print the URLs, stop on SIGINT/SIGTERM (`edalab up`).
//!
//! The gateway may read the bus (tails for `/ws`, admin for lag) but never produces to it
//! (save a DLQ redrive, an operator's command on the bus itself, see [`dlq`]) or decides
//! anything about events: business routes belong to the services, which hand
//! their routers in as [`Mount`]s. It depends on no service crate.

pub mod config;
pub mod consumers;
pub mod dead_letters;
pub mod dlq;
pub mod error;
pub mod forward;
pub mod health;
pub mod hub;
pub mod lab;
pub mod launch;
pub mod payload;
pub mod registry;
pub mod router;
pub mod security;
pub mod server;
pub mod topics;
pub mod ui;
pub mod ws;

pub use config::GatewaySettings;
pub use edalab_telemetry as telemetry;
pub use error::{ApiError, ApiJson, ErrorBody, ErrorCode};
pub use health::{HealthCheck, HealthReport, Role};
pub use launch::{Gateway, LaunchError, Urls, shutdown_signal};
pub use router::{AppState, AppStateBuilder, GatewayError, Mount, operations, router};
pub use server::{ServeLimits, serve, serve_with};
