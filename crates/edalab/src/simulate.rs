//! `edalab simulate`: runs the simulator (S3-06, X-06) against the bus in the data
//! directory until its duration is over (or Ctrl-C), with a progress bar, then prints what
//! was produced by type and the actual rate.
//!
//! Owns only the terminal: the run loop is `edalab_services::simulator::SimulationControl`,
//! the same one `POST /api/v1/simulation/start` drives. It needs the data directory for
//! writing, so it refuses to run next to a running `edalab up` (use the REST API there).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use edalab_bus::{Admin, Bus};
use edalab_services::simulator::{ControlOptions, SimulationControl, StartRequest, StatusResponse};
use indicatif::{ProgressBar, ProgressStyle};

/// How often the progress bar is refreshed.
const REFRESH_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario: `default`, `banking-day`, `fraud-burst`, a name in --scenarios-dir, or a
    /// path to a .toml file.
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
}

pub async fn run(args: SimulateArgs, data_dir: &Path) -> anyhow::Result<()> {
    let bus = open_for_writing(data_dir)?;
    let result = simulate(args, &bus).await;
    bus.close().await.context("closing the bus")?;
    result
}

/// Opens the bus for writing; mirrors `cli::open_for_writing`.
fn open_for_writing(data_dir: &Path) -> anyhow::Result<edalab_bus::log::EmbeddedBus> {
    match edalab_bus::log::EmbeddedBus::open(data_dir, edalab_bus::log::LogConfig::default()) {
        Err(e @ edalab_bus::BusError::Locked { .. }) => {
            Err(anyhow::Error::new(e).context(format!(
                "cannot write to {}: it is in use (a running `edalab up`?); drive its simulator \
             with POST /api/v1/simulation/start instead",
                data_dir.display()
            )))
        }
        other => other.with_context(|| format!("opening the bus in {}", data_dir.display())),
    }
}

async fn simulate(args: SimulateArgs, bus: &edalab_bus::log::EmbeddedBus) -> anyhow::Result<()> {
    // The same topics `edalab up` creates, so the banking events have somewhere to go.
    for (name, config) in crate::seed::seed_topics() {
        bus.create_topic(name, config)
            .await
            .with_context(|| format!("creating topic `{name}`"))?;
    }
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let control = SimulationControl::new(
        shared,
        ControlOptions {
            scenarios_dir: Some(args.scenarios_dir.clone()),
        },
    )
    .context("loading the schema catalog")?;
    control
        .start(StartRequest {
            scenario: args.scenario.clone(),
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
    print_summary(&status, started.elapsed(), interrupted);
    if let Some(error) = status.error {
        anyhow::bail!("the simulation stopped on an error: {error}");
    }
    Ok(())
}

fn print_summary(status: &StatusResponse, elapsed: Duration, interrupted: bool) {
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
    println!("  {:<24} {:>12}", "event type", "produced");
    for (kind, n) in &status.events_by_type {
        println!("  {kind:<24} {n:>12}");
    }
    println!("  {:<24} {:>12}", "total", status.events_produced);
    for (route, n) in &status.events_skipped {
        println!("  not sent (no bus topic for {route}): {n}");
    }
    println!(
        "  {:.1} s, actual rate {:.1} items/s generated, {:.1} events/s produced (target {})",
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
