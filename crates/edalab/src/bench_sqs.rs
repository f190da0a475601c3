//! `edalab bench sqs`: messages per second through SQS → handler → delete with edalab's
//! consumer (`SqsWorker`), against the plain SDK receive/delete loop on the same endpoint in
//! the same run (`edalab_aws::bench`). Each round fills a fresh queue, drains it with one loop,
//! fills it again and drains it with the other; the report gives each round and the medians.

use clap::Args;
use serde_json::json;

use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct SqsBenchArgs {
    /// Messages per loop and round.
    #[arg(long, default_value_t = 2_000)]
    pub messages: u64,
    #[arg(long, default_value_t = 200)]
    pub size_bytes: usize,
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also time a deployed queue function (`edalab aws deploy`), e.g.
    /// `edalab-calculator-local`: one cold invoke (after a configuration change), then 20
    /// warm ones, each with an empty SQS batch.
    #[arg(long, value_name = "FUNCTION")]
    pub lambda: Option<String>,
}

/// Runs the bench against the profile's AWS endpoint (`--aws-endpoint`, credentials from
/// the AWS chain).
pub async fn run(config: &Config, args: &SqsBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.messages > 0 && args.rounds > 0,
        "--messages and --rounds must be positive"
    );
    imp::run(config, args).await
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(args: &SqsBenchArgs, endpoint: &str, rounds: &[(f64, f64)]) -> serde_json::Value {
    let mut raw: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    let mut worker: Vec<f64> = rounds.iter().map(|r| r.1).collect();
    let (raw, worker) = (median(&mut raw), median(&mut worker));
    json!({
        "bench": "sqs",
        "endpoint": endpoint,
        "messages": args.messages,
        "size_bytes": args.size_bytes,
        "rounds": rounds.iter().map(|(r, w)| json!({"raw_per_s": r, "worker_per_s": w})).collect::<Vec<_>>(),
        "raw_per_s_median": raw,
        "worker_per_s_median": worker,
        "ratio": worker / raw,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

fn print(report: &serde_json::Value) {
    println!(
        "edalab bench sqs at {} ({} messages of {} bytes per loop, load {})",
        report["endpoint"], report["messages"], report["size_bytes"], report["load_average"]
    );
    for (i, round) in report["rounds"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        println!(
            "  round {}: raw receive/delete {:>8.0} msg/s   edalab worker {:>8.0} msg/s",
            i + 1,
            round["raw_per_s"].as_f64().unwrap_or(0.0),
            round["worker_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "  median:  raw {:.0} msg/s, worker {:.0} msg/s, ratio {:.2}",
        report["raw_per_s_median"].as_f64().unwrap_or(0.0),
        report["worker_per_s_median"].as_f64().unwrap_or(0.0),
        report["ratio"].as_f64().unwrap_or(0.0)
    );
    if let Some(lambda) = report.get("lambda") {
        println!(
            "  lambda {}: cold invoke {:.0} ms, warm median {:.1} ms (max {:.1} ms, 20 invokes)",
            lambda["function"],
            lambda["cold_ms"].as_f64().unwrap_or(0.0),
            lambda["warm_ms_median"].as_f64().unwrap_or(0.0),
            lambda["warm_ms_max"].as_f64().unwrap_or(0.0)
        );
    }
}

#[cfg(feature = "aws")]
mod imp {
    use edalab_aws::{SqsQueues, WorkerSettings, bench};
    use edalab_bus::{QueueSpec, Queues};

    use super::{Config, SqsBenchArgs, print, report};

    pub async fn run(config: &Config, args: &SqsBenchArgs) -> anyhow::Result<()> {
        let (sdk, place) = crate::profile::aws_sdk(&config.aws).await?;
        let settings = WorkerSettings::default();
        let pollers = settings.batches_in_flight_max;
        let sqs = SqsQueues::from_sdk_config(&sdk).with_worker_settings(settings);
        let count = usize::try_from(args.messages)?;
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let name = format!("edalab-bench-{}-{round}", std::process::id());
            let spec = QueueSpec::seeded(&name, format!("{name}-dlq"));
            let measured = async {
                sqs.ensure(&spec).await?;
                bench::fill(&sqs, &name, count, args.size_bytes, pollers)
                    .await
                    .map_err(anyhow::Error::msg)?;
                let raw = bench::raw(&sqs, &name, args.messages, pollers)
                    .await
                    .map_err(anyhow::Error::msg)?;
                bench::fill(&sqs, &name, count, args.size_bytes, pollers)
                    .await
                    .map_err(anyhow::Error::msg)?;
                let worker = bench::worker(&sqs, &spec, args.messages)
                    .await
                    .map_err(anyhow::Error::msg)?;
                let per_s = |d: std::time::Duration| args.messages as f64 / d.as_secs_f64();
                anyhow::Ok((per_s(raw), per_s(worker)))
            }
            .await;
            bench::remove(&sqs, &spec).await;
            rounds.push(measured?);
        }
        let mut report = report(args, &place, &rounds);
        if let Some(function) = &args.lambda {
            let (cold, warm) = bench::lambda_invokes(&sdk, function, 20)
                .await
                .map_err(anyhow::Error::msg)?;
            let mut warm_ms: Vec<f64> = warm.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            report["lambda"] = serde_json::json!({
                "function": function,
                "cold_ms": cold.as_secs_f64() * 1e3,
                "warm_ms_median": super::median(&mut warm_ms),
                "warm_ms_max": warm_ms.last().copied().unwrap_or(0.0),
            });
        }
        if args.json {
            println!("{report}");
        } else {
            print(&report);
        }
        Ok(())
    }
}

#[cfg(not(feature = "aws"))]
mod imp {
    use super::{Config, SqsBenchArgs};

    pub async fn run(_: &Config, _: &SqsBenchArgs) -> anyhow::Result<()> {
        Err(crate::profile::needs_aws_feature("edalab bench sqs"))
    }
}
