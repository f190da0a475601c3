//! `edalab simulate`: runs the simulator (S3-06, X-06) offline against the data directory
//! until its duration is over (or Ctrl-C), with a progress bar, then prints what was sent
//! by type, what was refused or not sent, and the actual rate.
//!
//! Routes (docs/simulator.md): banking events and calculator messages are produced on the
//! profile's bus (the data directory's log, or the broker with `--profile kafka`); S2 order files are written atomically into
//! `<data-dir>/inbox/orders/`, where the intake picks them up at the next `edalab up`; S0
//! transactions and S4 orders are POSTed to a running platform given with `--target
//! http://HOST:PORT` (bounded concurrency, timeouts), and without it they are counted and
//! reported as not sent, with how to send them. Banking events are not sent over REST in
//! `--target` mode: the platform has no route taking raw contract events (ADR 010). With
//! `--target`, a data directory held by the running platform is accepted: the order files
//! go into its inbox (picked up at once) and the bus items are reported as not sent.
//!
//! Owns only the terminal and the CLI's route sink: the run loop is
//! `edalab_services::simulator::SimulationControl`, the same one `POST
//! /api/v1/simulation/start` drives. It needs the data directory for writing, so it refuses
//! to run next to a running `edalab up` on the same directory (use the REST API there).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use anyhow::Context;
use async_trait::async_trait;
use clap::Args;
use edalab_bus::{Bus, BusError};
use edalab_services::simulator::items::topics::{
    ORDER_FILES_PREFIX, ORDERS_PATH, TRANSACTIONS_PATH,
};
use edalab_services::simulator::{
    ControlOptions, Delivery, Outgoing, Route, RouteSink, ScenarioSource, SimulationControl,
    StartRequest, StatusResponse,
};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::profile::{Access, OpenBus};
use crate::target::{HttpTarget, Limits};

/// How often the progress bar is refreshed.
const REFRESH_INTERVAL: Duration = Duration::from_millis(200);
/// Most requests in flight to `--target`.
const TARGET_IN_FLIGHT_MAX: usize = 16;
/// Whole-request timeout towards `--target`.
const TARGET_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario: `default`, `banking-day`, `fraud-burst`, `transactions`, `calculator`,
    /// `order-files`, `orders`, a name in --scenarios-dir, or a path to a .toml file.
    #[arg(long, default_value = "default")]
    pub scenario: String,
    /// Events per second (0 < N <= 50 000) [default: the scenario's].
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Seconds to run; 0 runs until Ctrl-C [default: the scenario's `duration_s`].
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Seed of the random stream: the same seed and scenario give the same events
    /// [default: from the clock, printed at the end].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Traffic shape: constant, ramp, burst or sine [default: the scenario's].
    #[arg(long, value_name = "P")]
    pub pattern: Option<String>,
    /// Folder searched for `<scenario>.toml` before the built-in scenarios.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// No progress bar (the summary is still printed).
    #[arg(long)]
    pub quiet: bool,
    /// A running platform (`http://HOST:PORT`) to POST the S0 transactions and S4 orders
    /// to (`/api/v1/transactions`, `/api/v1/orders`). Without it they are not sent (the
    /// summary says how many). Banking events and calculator messages still go to the bus
    /// in --data-dir (reported as not sent when a running platform holds it), order files
    /// to <data-dir>/inbox/orders.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The bearer token of a --target that requires one (its `security.token`;
    /// docs/security.md).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "EDALAB_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

pub async fn run(args: SimulateArgs, config: &Config) -> anyhow::Result<()> {
    let data_dir = &config.bus.data_dir;
    let target = match &args.target {
        Some(text) => {
            let target = HttpTarget::parse(
                text,
                args.token.clone(),
                Limits {
                    request_timeout: TARGET_REQUEST_TIMEOUT,
                    in_flight_max: TARGET_IN_FLIGHT_MAX,
                },
            )?;
            target.check().await?;
            Some(target)
        }
        None => None,
    };
    // With --target, a data directory held by the running platform is fine: the S0/S4
    // items go over HTTP and the order files into its inbox, only bus items cannot go.
    let bus = open_for_writing(config, target.is_some()).await?;
    let sink = Arc::new(CliSink {
        inbox: edalab_services::intake::inbox_dir(data_dir),
        target,
        bus_held: bus.is_none(),
    });
    let result = simulate(args, config, bus.as_ref().map(OpenBus::shared), sink).await;
    if let Some(bus) = bus {
        bus.close().await.context("closing the bus")?;
    }
    result
}

/// The CLI's route sink: order files into the inbox of the data directory, HTTP items to
/// `--target` when given (else not delivered: counted as not sent).
struct CliSink {
    inbox: PathBuf,
    target: Option<HttpTarget>,
    /// The data directory's bus is held by a running platform (only with --target).
    bus_held: bool,
}

#[async_trait]
impl RouteSink for CliSink {
    fn delivers(&self, route: Route) -> bool {
        match route {
            Route::File(ORDER_FILES_PREFIX) => true,
            Route::HttpPost(TRANSACTIONS_PATH | ORDERS_PATH) => self.target.is_some(),
            _ => false,
        }
    }

    async fn deliver(&self, items: &[Outgoing]) -> Vec<Delivery> {
        let mut out: Vec<Option<Delivery>> = vec![None; items.len()];
        // Files: one blocking task for the batch, in order.
        let files: Vec<(usize, String, Vec<u8>)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| matches!(item.route, Route::File(_)))
            .map(|(i, item)| (i, item.key.clone(), item.body.clone()))
            .collect();
        if !files.is_empty() {
            let inbox = self.inbox.clone();
            let written = tokio::task::spawn_blocking(move || {
                files
                    .into_iter()
                    .map(|(i, name, body)| {
                        let delivery =
                            match edalab_services::intake::write_order_file(&inbox, &name, &body) {
                                Ok(path) => Delivery::Accepted {
                                    reference: path
                                        .file_name()
                                        .map(|n| n.to_string_lossy().into_owned()),
                                },
                                Err(error) => Delivery::Failed {
                                    reason: format!("writing order file `{name}`: {error}"),
                                },
                            };
                        (i, delivery)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
            match written {
                Ok(written) => {
                    for (i, delivery) in written {
                        out[i] = Some(delivery);
                    }
                }
                Err(error) => tracing::error!(%error, "order file writer failed"),
            }
        }
        // HTTP items: bounded concurrency, answers in order.
        if let Some(target) = &self.target {
            // Indices only: closures over `&Outgoing` trip the async-trait lifetimes.
            let http: Vec<usize> = (0..items.len())
                .filter(|&i| matches!(items[i].route, Route::HttpPost(_)))
                .collect();
            let posted: Vec<Delivery> = futures::stream::iter(http.iter().copied())
                .map(|i| target.post(&items[i]))
                .buffered(TARGET_IN_FLIGHT_MAX)
                .collect()
                .await;
            for (i, delivery) in http.into_iter().zip(posted) {
                out[i] = Some(delivery);
            }
        }
        out.into_iter()
            .map(|d| {
                d.unwrap_or(Delivery::Failed {
                    reason: "not delivered".to_owned(),
                })
            })
            .collect()
    }
}

impl HttpTarget {
    async fn post(&self, item: &Outgoing) -> Delivery {
        let path = item.route.name();
        let url = format!("{}/api/v1{path}", self.base);
        let response = match self
            .authorized(self.client.post(&url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(item.body.clone())
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                return Delivery::Failed {
                    reason: format!(
                        "POST {url}: {}",
                        edalab_domain::validation::error_chain(&error)
                    ),
                };
            }
        };
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            let field = if path == ORDERS_PATH {
                "orderId"
            } else {
                "transactionId"
            };
            Delivery::Accepted {
                reference: body[field].as_str().map(str::to_owned),
            }
        } else if status.is_client_error() {
            Delivery::Refused {
                status: status.as_u16(),
                reason: body["error"].as_str().unwrap_or_default().to_owned(),
            }
        } else {
            Delivery::Failed {
                reason: format!(
                    "POST {url}: {status} {}",
                    body["error"].as_str().unwrap_or_default()
                ),
            }
        }
    }
}

/// Opens the profile's bus for writing. An embedded bus held by a running platform is
/// `None` when `held_is_fine`, else an error saying what to do.
async fn open_for_writing(config: &Config, held_is_fine: bool) -> anyhow::Result<Option<OpenBus>> {
    match crate::cli::open_bus(config, Access::Write).await {
        Ok(bus) => Ok(Some(bus)),
        Err(e) if matches!(e.downcast_ref(), Some(BusError::Locked { .. })) => {
            if held_is_fine {
                Ok(None)
            } else {
                Err(e.context(
                    "drive the running platform's simulator with POST \
                     /api/v1/simulation/start instead (it delivers every route in process)",
                ))
            }
        }
        Err(e) => Err(e),
    }
}

async fn simulate(
    args: SimulateArgs,
    config: &Config,
    bus: Option<Arc<dyn Bus>>,
    sink: Arc<CliSink>,
) -> anyhow::Result<()> {
    // The same topics `edalab up` creates, so the banking events and the calculator
    // messages have somewhere to go.
    if let Some(bus) = &bus {
        for (name, config) in crate::service::Service::ALL
            .into_iter()
            .flat_map(crate::service::Service::topics)
        {
            bus.create_topic(name, config)
                .await
                .with_context(|| format!("creating topic `{name}`"))?;
        }
    }
    let options = ControlOptions {
        scenarios_dir: Some(args.scenarios_dir.clone()),
        ..ControlOptions::default()
    };
    let control = match bus {
        Some(bus) => SimulationControl::new(bus, options),
        None => SimulationControl::without_bus(options),
    }
    .context("loading the schema catalog")?
    .with_catalog(crate::registration::open(config, false).await?.catalog)
    .with_sink(sink.clone());
    control
        .start(StartRequest {
            scenario: ScenarioSource::from_cli_arg(&args.scenario),
            rate: args.rate,
            duration: args.duration,
            pattern: args.pattern.clone(),
            seed: args.seed,
        })
        .await
        .context("starting the simulation")?;
    let started = Instant::now();
    let first = control.status();
    let expected = first.events_expected;

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        match expected {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} events {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        }
    };

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    loop {
        let status = control.status();
        bar.set_position(status.events_produced);
        bar.set_message(format!("{:.0}/s", status.rate_actual));
        if status.status != "running" {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_INTERVAL) => {}
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                // Stopping waits for the last batch to be durable.
                let _ = control.stop().await;
            }
        }
    }
    bar.finish_and_clear();

    let status = control.status();
    print_summary(&status, started.elapsed(), interrupted, &sink);
    if let Some(error) = status.error {
        anyhow::bail!("the simulation stopped on an error: {error}");
    }
    let failed: u64 = status.events_failed.values().sum();
    if failed > 0 {
        anyhow::bail!(
            "{failed} items could not be delivered; last reason: {}",
            status.delivery_error.unwrap_or_default()
        );
    }
    Ok(())
}

fn print_summary(status: &StatusResponse, elapsed: Duration, interrupted: bool, sink: &CliSink) {
    let elapsed_s = elapsed.as_secs_f64();
    println!(
        "simulation {} {}: scenario {}, pattern {}, seed {}",
        status
            .simulation_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        if interrupted { "interrupted" } else { "done" },
        status.scenario.as_deref().unwrap_or("?"),
        status.pattern.unwrap_or("?"),
        status.seed.map(|s| s.to_string()).unwrap_or_default(),
    );
    println!("  {:<24} {:>12} {:>12}", "event type", "sent", "refused");
    for (kind, n) in &status.events_by_type {
        let refused = status.events_refused.get(kind).copied().unwrap_or(0);
        println!("  {kind:<24} {n:>12} {refused:>12}");
    }
    println!(
        "  {:<24} {:>12} {:>12}",
        "total",
        status.events_produced,
        status.events_refused.values().sum::<u64>()
    );
    if let Some(files) = status.events_by_type.get("OrderFile") {
        println!(
            "  {files} order files written into {} ({})",
            sink.inbox.display(),
            if sink.bus_held {
                "the running platform's intake picks them up"
            } else {
                "the intake picks them up at the next `edalab up`"
            }
        );
    }
    if let Some(target) = &sink.target {
        let posted: u64 = ["Transaction", "Order"]
            .iter()
            .filter_map(|k| status.events_by_type.get(k))
            .sum();
        println!(
            "  {posted} S0/S4 items POSTed to {} ({} refused with a 4xx, as invalid items are)",
            target.base,
            status.events_refused.values().sum::<u64>()
        );
    }
    for (route, n) in &status.events_skipped {
        if route.starts_with('/') {
            println!(
                "  NOT SENT: {n} items for POST /api/v1{route}: no --target given; pass \
                 --target http://HOST:PORT of a running `edalab up` to send them, or run the \
                 scenario inside the platform with POST /api/v1/simulation/start"
            );
        } else if sink.bus_held {
            println!(
                "  NOT SENT: {n} items for {route}: the data directory's bus is held by the \
                 running platform; run the scenario inside it with POST \
                 /api/v1/simulation/start to send bus events"
            );
        } else {
            println!("  NOT SENT: {n} items for {route}: no such topic or folder here");
        }
    }
    for (route, n) in &status.events_failed {
        println!(
            "  FAILED: {n} items for {route} could not be delivered ({})",
            status.delivery_error.as_deref().unwrap_or("?")
        );
    }
    println!(
        "  {:.1} s, actual rate {:.1} items/s generated, {:.1} events/s sent (target {})",
        elapsed_s,
        status.rate_actual,
        if elapsed_s > 0.0 {
            status.events_produced as f64 / elapsed_s
        } else {
            0.0
        },
        status
            .rate
            .map(|r| format!("{r} events/s"))
            .unwrap_or_else(|| "?".to_owned()),
    );
}
