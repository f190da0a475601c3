//! edalab's process: the configuration, the profile that opens the backends, the service
//! table and the assembly, and one module per command family. The `edalab` binary
//! (`main.rs`) only calls [`main`]; tests (and, later, other binaries) use the library.

mod aws_cmd;
mod bench;
mod bench_e2e;
mod bench_nats;
mod bench_sqs;
mod chaos;
mod check;
mod cli;
pub mod config;
mod consume;
mod consumers;
mod dlq;
#[cfg(feature = "aws")]
mod dlq_sqs;
#[cfg(feature = "aws")]
pub mod lambda;
mod ledger;
mod output;
mod platform;
mod produce;
mod profile;
mod registration;
mod repair;
mod schemas;
mod seed;
mod serve;
mod service;
mod simulate;
mod tail;
mod target;
mod topics;
mod up;

pub use chaos::ledger_lag;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line and runs the command; the process's exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // `up` and `serve` set up their logs from their configuration (`log.*`, `otlp.*`).
    if !matches!(cli.command, cli::Command::Up(_) | cli::Command::Serve(_)) {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("EDALAB_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
