//! The simulator (S3-06, S3-07 core, X-06): generates believable, reproducible banking
//! traffic and the other pipelines' inputs, paced by a traffic pattern.
//!
//! Owns fake data, scenarios, the account book it keeps to stay consistent, pacing and the
//! encoding of generated items to bytes. It may not touch the bus, the stores or the network:
//! the REST layer and the CLI drive it and hand its bytes to the bus port, and the items
//! routed over HTTP or to files to a [`RouteSink`] (adapters: `pipeline::sim_sink` in
//! `edalab up`, the CLI's file writer and `--target` client). Time and randomness
//! are injected ([`Clock`], a `seed`), so the same seed, scenario and clock readings give the
//! same bytes.

pub mod amounts;
pub mod api;
pub mod bench;
pub mod book;
pub mod clock;
pub mod encode;
pub mod fake_data;
pub mod generator;
pub mod iban;
pub mod items;
pub mod pattern;
pub mod runner;
pub mod scenario;
pub mod sink;

pub use bench::{BenchError, BenchStats, bench_generate, bench_scenario};
pub use clock::{Clock, ManualClock, SystemClock};
pub use encode::{EncodeError, ItemEncoder, to_banking_event};
pub use fake_data::FakeData;
pub use generator::{PRODUCE_COUNT_MAX, Simulator, SimulatorError, SimulatorStats};
pub use items::{EventKind, GeneratedItem, InvalidReason, Payload, Route, Validity};
pub use pattern::{PACER_TICK, Pacer, PacerLimits, TrafficPattern};
pub use runner::{
    ControlOptions, FieldError, ProduceResponse, SimError, SimulationControl, StartLimits,
    StartRequest, StartResponse, StatusResponse, StopResponse,
};
pub use scenario::{
    BUILTIN_SCENARIOS, SCENARIO_BYTES_MAX, Scenario, ScenarioCatalogue, ScenarioError,
    ScenarioName, ScenarioSource,
};
pub use sink::{Delivery, Outgoing, RouteSink};
