//! `edalab chaos`: crash safety, proved end to end on the real binary (issue 7, X-02).
//!
//! Starts `edalab up` as a child process (this executable, `--listen 127.0.0.1:0`, the
//! chaos data directory), starts a `banking-day` simulation over REST, and SIGKILLs the
//! child at a random moment; `--kills` times, restarting it (and a new simulation, with
//! its own seed) each time. Then it starts the platform once more, waits until the
//! ledger's lag is 0, stops it with SIGTERM (a clean stop must succeed), and checks, in
//! this process, against what is durably on the banking topics:
//!
//! - `edalab check ledger`'s reconciliation (balances vs transactions vs a replay);
//! - a bank invariant in the spirit of Jepsen's bank test: every acknowledged event
//!   (durable on the banking topics, and at least as many as the simulator's status
//!   reported produced before each kill) decided exactly once — applied or refused —,
//!   none lost, none doubled; money conserved (transfers out = transfers in, and the total
//!   of balances = external credits − external debits, per currency); no negative balance.
//!
//! On the profile this command is given (`--profile kafka --brokers ... --database-url
//! ...`), the children run on it too, and the check reads the topics back from the broker
//! and the ledger from PostgreSQL.
//!
//! Prints the counts and exits non-zero on any loss, double, mismatch or broken invariant.
//! The kill moments and the simulations' seeds come from `--seed`, printed for replay
//! (the moments are replayed, the interleaving with the child's threads is not).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::config::{BusBackend, Config, StoreBackend};
use anyhow::Context;
use clap::Args;
use edalab_domain::ledger::TransactionKind;
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::{Mismatch, decode_event, reconcile};
use edalab_services::simulator::EventKind;
use edalab_store::InboxOutcome;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Longest wait for a started platform to print its URLs.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the ledger to catch up before the final check.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest wait for a clean stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the simulator's status is read while waiting for the kill.
const STATUS_INTERVAL: Duration = Duration::from_millis(50);
/// The scenario run between kills (every event kind, refusals included).
const SCENARIO: &str = "banking-day";

#[derive(Args, Debug, Clone)]
pub struct ChaosArgs {
    /// How many times the platform is SIGKILLed (each time restarted).
    #[arg(long, value_name = "N", required_unless_present = "verify_only")]
    pub kills: Option<u32>,
    /// Run no platform: only check the data directory (`--data-dir`) as it is, with the
    /// same ledger check and bank invariant as after the kills (for a kept directory).
    #[arg(long, conflicts_with = "kills")]
    pub verify_only: bool,
    /// Seed of the kill moments and of the simulations [default: from the clock; printed].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Events per second of each simulation (0 < N <= 50 000).
    #[arg(long, value_name = "N", default_value_t = 2_000.0)]
    pub rate: f64,
    /// Least time the platform runs (after it is ready) before a kill, in ms.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub uptime_ms_min: u64,
    /// Most time the platform runs (after it is ready) before a kill, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1_500)]
    pub uptime_ms_max: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

impl ChaosArgs {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= 50_000.0,
            "--rate must be > 0 and <= 50000, got {}",
            self.rate
        );
        anyhow::ensure!(
            self.uptime_ms_min <= self.uptime_ms_max,
            "--uptime-ms-min ({}) must not exceed --uptime-ms-max ({})",
            self.uptime_ms_min,
            self.uptime_ms_max
        );
        Ok(())
    }
}

/// What the run found.
#[derive(Debug, Default, serde::Serialize)]
pub struct ChaosReport {
    pub seed: u64,
    pub kills: u32,
    /// Distinct decodable events durably on the banking topics.
    pub events_acknowledged: u64,
    /// Banking events the simulator's status reported produced before each kill (a lower
    /// bound of what was acknowledged).
    pub events_acknowledged_by_status: u64,
    /// Messages on the banking topics that do not decode (dead-lettered, not decided).
    pub messages_undecodable: u64,
    pub applied: u64,
    pub refused: u64,
    pub lost: u64,
    pub doubled: u64,
    pub negative_balances: u64,
    pub accounts: u64,
    /// Per currency: `(total of balances, external credits − debits, transfers out,
    /// transfers in)` as decimal strings.
    pub money: BTreeMap<String, [String; 4]>,
    pub money_conserved: bool,
    pub mismatches: Vec<String>,
    pub restart_ms_max: u64,
    pub restart_ms_p50: u64,
}

impl ChaosReport {
    pub fn is_ok(&self) -> bool {
        self.lost == 0
            && self.doubled == 0
            && self.negative_balances == 0
            && self.money_conserved
            && self.mismatches.is_empty()
    }
}

/// Runs on the profile of `config` (the children `edalab up` too); the data directory is
/// `--data-dir`, else a scratch one removed after a passing run.
pub async fn run(
    mut config: Config,
    explicit_data_dir: Option<&Path>,
    args: ChaosArgs,
) -> anyhow::Result<()> {
    args.validate()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    if args.verify_only {
        return verify_only(&config, explicit_data_dir, &args).await;
    }
    let (dir, scratch) = match explicit_data_dir {
        Some(dir) => (dir.to_path_buf(), false),
        None => (
            std::env::temp_dir().join(format!("edalab-chaos-{}-{seed:x}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    config.bus.data_dir = dir.clone();
    if !args.json {
        println!(
            "edalab chaos: {} kills, seed {seed} (replay with --seed {seed}), data in {}",
            args.kills.unwrap_or(0),
            dir.display()
        );
    }
    let report = chaos(&config, &args, seed).await?;
    conclude(&report, &args, &dir)?;
    if scratch {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !args.json {
        println!("chaos: OK");
    }
    Ok(())
}

/// `--verify-only`: the check alone, on a directory an earlier run kept.
async fn verify_only(
    config: &Config,
    explicit_data_dir: Option<&Path>,
    args: &ChaosArgs,
) -> anyhow::Result<()> {
    let dir = explicit_data_dir.context(
        "--verify-only needs the directory to check: give it with --data-dir (or EDALAB_DATA_DIR)",
    )?;
    anyhow::ensure!(
        dir.join(crate::ledger::SQLITE_FILE).exists()
            || config.store.backend == StoreBackend::Postgres,
        "--data-dir {}: no ledger here ({} is missing); give the directory a chaos run kept",
        dir.display(),
        crate::ledger::SQLITE_FILE
    );
    let mut report = ChaosReport::default();
    verify(config, &mut report).await?;
    conclude(&report, args, dir)?;
    if !args.json {
        println!("chaos: OK");
    }
    Ok(())
}

/// Prints the report; an error when anything was lost, doubled or broken.
fn conclude(report: &ChaosReport, args: &ChaosArgs, dir: &Path) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print_report(report);
    }
    if !report.is_ok() {
        anyhow::bail!(
            "chaos: the platform lost {} and doubled {} event(s), {} mismatch(es), {} negative balance(s), money {}conserved (data kept in {})",
            report.lost,
            report.doubled,
            report.mismatches.len(),
            report.negative_balances,
            if report.money_conserved { "" } else { "NOT " },
            dir.display()
        );
    }
    Ok(())
}

async fn chaos(config: &Config, args: &ChaosArgs, seed: u64) -> anyhow::Result<ChaosReport> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let mut report = ChaosReport {
        seed,
        ..ChaosReport::default()
    };
    let mut restarts_ms = Vec::new();
    let kills = args.kills.unwrap_or(0);
    for kill in 0..kills {
        let mut platform = Platform::start(config).await?;
        restarts_ms.push(platform.ready_ms);
        let simulation_seed: u64 = rng.r#gen();
        let uptime = Duration::from_millis(rng.gen_range(args.uptime_ms_min..=args.uptime_ms_max));
        let kill_at = Instant::now() + uptime;
        let started = http
            .post(format!("{}/api/v1/simulation/start", platform.base))
            .json(&serde_json::json!({
                "scenario": SCENARIO,
                "rate": args.rate,
                "duration": 0,
                "seed": simulation_seed,
            }))
            .send()
            .await;
        match started {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                platform.kill().await;
                anyhow::bail!("kill {kill}: starting the simulation answered {status}: {body}");
            }
            // The kill may come before the answer; a refused connection is a failure.
            Err(error) => {
                platform.kill().await;
                return Err(anyhow::Error::new(error)
                    .context(format!("kill {kill}: starting the simulation")));
            }
        }
        // Read the acknowledged count until the kill: what the status said last is durable.
        let mut acknowledged = 0;
        while Instant::now() < kill_at {
            tokio::time::sleep(STATUS_INTERVAL.min(kill_at - Instant::now())).await;
            if let Some(n) = banking_events_produced(&http, &platform.base).await {
                acknowledged = n;
            }
        }
        platform.kill().await;
        report.events_acknowledged_by_status += acknowledged;
        report.kills += 1;
        if !args.json {
            println!(
                "  kill {:>3}/{}: after {:>5} ms up ({:>5} ms to ready), {acknowledged} banking events acknowledged",
                kill + 1,
                kills,
                uptime.as_millis(),
                platform.ready_ms
            );
        }
    }
    // Last start: recover, catch up, stop cleanly.
    let mut platform = Platform::start(config).await?;
    restarts_ms.push(platform.ready_ms);
    let caught_up = wait_for_ledger_lag_zero(&http, &platform.base).await;
    let stopped = platform.terminate().await;
    caught_up?;
    stopped?;
    restarts_ms.sort_unstable();
    report.restart_ms_max = restarts_ms.last().copied().unwrap_or(0);
    report.restart_ms_p50 = restarts_ms.get(restarts_ms.len() / 2).copied().unwrap_or(0);
    verify(config, &mut report).await?;
    Ok(report)
}

/// Banking events the running simulation has produced (durable), from its status.
async fn banking_events_produced(http: &reqwest::Client, base: &str) -> Option<u64> {
    let status: serde_json::Value = http
        .get(format!("{base}/api/v1/simulation/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let by_type = status.get("events_by_type")?.as_object()?;
    Some(
        by_type
            .iter()
            .filter(|(kind, _)| EventKind::from_wire_name(kind).is_some_and(|k| k.is_banking()))
            .filter_map(|(_, n)| n.as_u64())
            .sum(),
    )
}

/// The ledger group's total lag in a `/metrics` page, when reported (the chaos run and the
/// tests wait on it).
pub fn ledger_lag(metrics: &str) -> Option<f64> {
    let mut seen = false;
    let mut total = 0.0;
    for line in metrics.lines() {
        if line.starts_with("edalab_consumer_lag{") && line.contains("group=\"ledger\"") {
            seen = true;
            total += line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN);
        }
    }
    seen.then_some(total)
}

/// Waits until `/metrics` reports a ledger lag of 0 twice in a row.
async fn wait_for_ledger_lag_zero(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    let mut zero_in_a_row = 0;
    let mut last = None;
    while Instant::now() < deadline {
        let lag = match http.get(format!("{base}/metrics")).send().await {
            Ok(response) => response.text().await.ok().and_then(|m| ledger_lag(&m)),
            Err(_) => None,
        };
        last = lag;
        if lag == Some(0.0) {
            zero_in_a_row += 1;
            if zero_in_a_row == 2 {
                return Ok(());
            }
        } else {
            zero_in_a_row = 0;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    anyhow::bail!(
        "the ledger did not catch up within {} s after the last restart (lag {last:?})",
        CATCH_UP_TIMEOUT.as_secs()
    )
}

/// One `edalab up` child process.
struct Platform {
    child: tokio::process::Child,
    base: String,
    ready_ms: u64,
}

impl Platform {
    /// `edalab up` on `config`'s data directory and profile.
    async fn start(config: &Config) -> anyhow::Result<Self> {
        let dir = &config.bus.data_dir;
        let exe = std::env::current_exe().context("finding the edalab executable")?;
        let log_path = dir.join("chaos-platform.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("--data-dir")
            .arg(dir)
            .args(["up", "--listen", "127.0.0.1:0"])
            .env("EDALAB__LOG__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        // The child runs on this process's profile, whichever way it was chosen.
        command
            .env("EDALAB__BUS__BACKEND", config.bus.backend.as_str())
            .env("EDALAB__STORE__BACKEND", config.store.backend.as_str())
            .env("EDALAB__STORE__URL", &config.store.url);
        if config.bus.backend == BusBackend::Kafka {
            command.env("EDALAB__BUS__BROKERS", &config.bus.brokers);
        }
        let started = Instant::now();
        let mut child = command.spawn().context("starting `edalab up`")?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.trim().strip_prefix("API") {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    return Ok::<_, std::io::Error>(Some(
                        url.trim_end_matches("/api/v1").to_owned(),
                    ));
                }
            }
            Ok(None)
        })
        .await;
        let base = match base {
            Ok(Ok(Some(base))) => base,
            other => {
                let _ = child.kill().await;
                anyhow::bail!(
                    "`edalab up` did not become ready ({}); its log: {}",
                    match other {
                        Err(_) => format!("no URL within {} s", READY_TIMEOUT.as_secs()),
                        Ok(Err(error)) => error.to_string(),
                        _ => "it exited".to_owned(),
                    },
                    log_path.display()
                );
            }
        };
        let ready_ms = started.elapsed().as_millis() as u64;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            base,
            ready_ms,
        })
    }

    /// SIGKILL, then reap.
    async fn kill(&mut self) {
        // `kill` sends SIGKILL on Unix and waits; an error means it has already exited.
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then a clean exit within [`STOP_TIMEOUT`].
    async fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = self.child.id().context("the platform exited by itself")?;
        let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
        // SAFETY: `kill(2)` with a pid of our own live (not yet reaped) child and a valid
        // signal number has no memory-safety preconditions.
        #[allow(unsafe_code, reason = "the one FFI call: sending SIGTERM to our child")]
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        anyhow::ensure!(
            sent == 0,
            "sending SIGTERM: {}",
            std::io::Error::last_os_error()
        );
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => anyhow::bail!("`edalab up` did not stop cleanly: {status}"),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context("waiting for `edalab up`")),
            Err(_) => {
                self.kill().await;
                anyhow::bail!(
                    "`edalab up` did not stop within {} s of SIGTERM",
                    STOP_TIMEOUT.as_secs()
                )
            }
        }
    }
}

/// The ledger check and the bank invariant, with the platform stopped.
async fn verify(config: &Config, report: &mut ChaosReport) -> anyhow::Result<()> {
    let bus =
        crate::profile::open_bus(config, crate::profile::Access::Write, "edalab-chaos").await?;
    let messages = crate::check::read_banking_topics(&*bus.shared()).await?;
    bus.close().await.context("closing the bus")?;
    let store = crate::profile::open_ledger_store(config).await?;
    let shared = store.shared();
    let catalog = SchemaCatalog::builtin().context("loading the schema catalog")?;
    let reconciliation = reconcile(&*shared, &catalog, &messages)
        .await
        .context("reconciling the ledger")?;

    // Acknowledged: every decodable event durably on the topics (copies counted once).
    let mut on_topics = HashMap::new();
    for message in &messages {
        match decode_event(&catalog, &message.topic, &message.value) {
            Ok(event) => *on_topics.entry(event.event_id).or_insert(0u32) += 1,
            Err(_) => report.messages_undecodable += 1,
        }
    }
    report.events_acknowledged = on_topics.len() as u64;
    // Decided: the inbox, one record per event (applied or refused).
    let decided = shared.decided_events().await?;
    let mut decisions = HashMap::new();
    for record in &decided {
        *decisions.entry(record.event_id).or_insert(0u32) += 1;
        match record.outcome {
            InboxOutcome::Applied => report.applied += 1,
            InboxOutcome::Rejected { .. } => report.refused += 1,
        }
    }
    report.lost = on_topics
        .keys()
        .filter(|id| !decisions.contains_key(*id))
        .count() as u64;
    // The simulator said more was produced than the topics hold: lost at the bus.
    let on_topics_total = messages.len() as u64;
    report.lost += report
        .events_acknowledged_by_status
        .saturating_sub(on_topics_total);
    // Doubled: an event decided twice, or more transactions than the replay gives.
    report.doubled = decisions.values().map(|n| u64::from(n - 1)).sum::<u64>();
    for mismatch in &reconciliation.mismatches {
        if let Mismatch::TransactionCountVsReplay {
            stored, replayed, ..
        } = mismatch
        {
            report.doubled += stored.saturating_sub(*replayed);
        }
    }

    let balances = shared.all_balances().await?;
    report.accounts = balances.len() as u64;
    report.negative_balances = balances.values().filter(|b| b.is_negative()).count() as u64;
    let mut per_currency: BTreeMap<String, [Decimal; 4]> = BTreeMap::new();
    for balance in balances.values() {
        per_currency
            .entry(balance.currency().as_str().to_owned())
            .or_default()[0] += balance.amount();
    }
    for sum in shared.transaction_sums().await? {
        let entry = per_currency
            .entry(sum.currency.as_str().to_owned())
            .or_default();
        match sum.kind {
            TransactionKind::TransferOut => entry[2] += sum.total,
            TransactionKind::TransferIn => entry[3] += sum.total,
            kind if kind.is_credit() => entry[1] += sum.total,
            _ => entry[1] -= sum.total,
        }
    }
    report.money_conserved = per_currency
        .values()
        .all(|[total, external, out, into]| total == external && out == into);
    report.money = per_currency
        .into_iter()
        .map(|(currency, values)| (currency, values.map(|v| v.to_string())))
        .collect();
    report.mismatches = reconciliation
        .mismatches
        .iter()
        .map(ToString::to_string)
        .collect();
    store.close().await?;
    Ok(())
}

fn print_report(report: &ChaosReport) {
    println!("chaos results (seed {})", report.seed);
    println!(
        "  kills                {} (restart to ready: p50 {} ms, max {} ms)",
        report.kills, report.restart_ms_p50, report.restart_ms_max
    );
    println!(
        "  events acknowledged  {} (durable on the banking topics; the simulator's status reported >= {}; {} undecodable messages dead-lettered)",
        report.events_acknowledged,
        report.events_acknowledged_by_status,
        report.messages_undecodable
    );
    println!("  applied              {}", report.applied);
    println!("  refused              {}", report.refused);
    println!("  lost                 {}", report.lost);
    println!("  doubled              {}", report.doubled);
    println!(
        "  accounts             {} ({} negative balances)",
        report.accounts, report.negative_balances
    );
    for (currency, [total, external, out, into]) in &report.money {
        println!(
            "  money {currency}            balances {total} {} external credits − debits {external}; transfers out {out} {} in {into}",
            if total == external { "=" } else { "≠" },
            if out == into { "=" } else { "≠" },
        );
    }
    println!(
        "  ledger check         {} mismatch(es)",
        report.mismatches.len()
    );
    for mismatch in report.mismatches.iter().take(20) {
        println!("    - {mismatch}");
    }
    if report.mismatches.len() > 20 {
        println!("    ... and {} more", report.mismatches.len() - 20);
    }
}
