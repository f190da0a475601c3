//! `edalab dlq list|show|redrive`: inspect dead-letter topics and move their messages back to
//! their origin (X-04). Thin over `edalab_bus::runtime::{dlq, redrive}`; it only parses
//! arguments and prints. Wired into `main.rs` as a subcommand taking a ready `Bus` and the
//! schema registry its values are decoded through (`crate::output`).

use std::io::Write;

use anyhow::Context;
use edalab_bus::Bus;
use edalab_bus::runtime::dlq::{self, DlqEntry};
use edalab_bus::runtime::{RedriveFilter, redrive};
use edalab_schema::{DisplayDecoder, DisplayValue, SchemaRegistry};
use serde_json::{Value, json};

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// List the messages of a DLQ topic with their failure reasons, oldest first.
    List {
        dlq_topic: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one DLQ message in full.
    Show {
        dlq_topic: String,
        partition: u32,
        offset: u64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Move DLQ messages back to their origin topic, attempts reset, at a bounded rate.
    /// Re-running does not resend what an earlier run moved.
    Redrive {
        dlq_topic: String,
        /// Only messages that came from this topic.
        #[arg(long)]
        origin: Option<String>,
        /// At most this many messages per second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// `edalab dlq ...` on the profile of `config`: the bus opened for writing (the views read
/// through a consumer group of their own, redrive produces), values decoded through the
/// configured schema registry.
pub async fn run_command(config: &crate::config::Config, args: DlqArgs) -> anyhow::Result<()> {
    if config.aws.queues == crate::config::QueuesBackend::Sqs
        && sqs_dlq_names()
            .iter()
            .any(|name| name == args.command.dlq())
    {
        return on_sqs(config, args).await;
    }
    let opened = crate::cli::open_bus(config, crate::profile::Access::Write).await?;
    let registry = crate::profile::open_registry_reader(config)?;
    let result = run(args, &*opened.shared(), &*registry).await;
    opened.close().await?;
    result
}

impl DlqCommand {
    /// The DLQ it is about.
    pub fn dlq(&self) -> &str {
        match self {
            Self::List { dlq_topic, .. }
            | Self::Show { dlq_topic, .. }
            | Self::Redrive { dlq_topic, .. } => dlq_topic,
        }
    }
}

/// The DLQs that are SQS queues with `aws.queues: sqs`: those of S0/S1/S2's work queues and
/// of S2's S3 events.
fn sqs_dlq_names() -> Vec<String> {
    crate::service::Service::ALL
        .iter()
        .flat_map(|service| service.queues())
        .filter_map(|spec| spec.dead_letter.map(|dlq| dlq.name))
        .chain(["tp-orders-intake-events-dlq".to_owned()])
        .collect()
}

#[cfg(feature = "aws")]
async fn on_sqs(config: &crate::config::Config, args: DlqArgs) -> anyhow::Result<()> {
    let queues = crate::profile::open_sqs_queues(&config.aws).await?;
    let mut out = std::io::stdout().lock();
    crate::dlq_sqs::run_to(args, &queues, &mut out).await
}

#[cfg(not(feature = "aws"))]
async fn on_sqs(_: &crate::config::Config, _: DlqArgs) -> anyhow::Result<()> {
    Err(crate::profile::needs_aws_feature("aws.queues: sqs"))
}

/// Runs a `dlq` subcommand against `bus`, printing to standard output.
pub async fn run(
    args: DlqArgs,
    bus: &dyn Bus,
    registry: &dyn SchemaRegistry,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    run_to(args, bus, registry, &mut out).await
}

/// Runs a `dlq` subcommand, printing to `out`.
pub async fn run_to(
    args: DlqArgs,
    bus: &dyn Bus,
    registry: &dyn SchemaRegistry,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut decoder = DisplayDecoder::new(registry);
    match args.command {
        DlqCommand::List {
            dlq_topic,
            limit,
            format,
        } => {
            let entries = dlq::list(bus, &dlq_topic, limit)
                .await
                .with_context(|| format!("listing DLQ `{dlq_topic}`"))?;
            for entry in entries {
                let line = match (entry, format) {
                    (Ok(entry), Format::Json) => {
                        let value = decoder.decode(&entry.value).await;
                        entry_json(&entry, &value).to_string()
                    }
                    (Ok(entry), Format::Text) => entry_line(&entry),
                    (Err(error), Format::Json) => {
                        json!({ "invalid": error.to_string() }).to_string()
                    }
                    (Err(error), Format::Text) => format!("invalid: {error}"),
                };
                writeln!(out, "{line}")?;
            }
        }
        DlqCommand::Show {
            dlq_topic,
            partition,
            offset,
            format,
        } => {
            let found = dlq::show(bus, &dlq_topic, partition, offset)
                .await
                .with_context(|| format!("reading DLQ `{dlq_topic}`"))?;
            let entry = found
                .with_context(|| format!("no message at {dlq_topic}/{partition}@{offset}"))??;
            let value = decoder.decode(&entry.value).await;
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&entry_json(&entry, &value))?
                )?,
                Format::Text => write!(out, "{}", entry_details(&entry, &value))?,
            }
        }
        DlqCommand::Redrive {
            dlq_topic,
            origin,
            rate,
            format,
        } => {
            let filter = RedriveFilter {
                origin_topic: origin,
                dlq_positions: None,
            };
            let report = redrive(bus, &dlq_topic, &filter, rate)
                .await
                .with_context(|| format!("redriving DLQ `{dlq_topic}`"))?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
                Format::Text => writeln!(
                    out,
                    "scanned {} redriven {} skipped {} invalid {}",
                    report.scanned, report.redriven, report.skipped, report.invalid
                )?,
            }
        }
    }
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One DLQ entry as a JSON object, its value shown as `value` (decoded).
pub fn entry_json(entry: &DlqEntry, value: &DisplayValue) -> Value {
    let headers: serde_json::Map<String, Value> = entry
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(text(value))))
        .collect();
    let mut object = json!({
        "topic": entry.dlq_topic,
        "partition": entry.dlq_partition,
        "offset": entry.dlq_offset,
        "timestamp": entry.timestamp_ms,
        "key": entry.key_text(),
        "headers": headers,
        "error": entry.error,
        "attempts": entry.attempts,
        "origin": {
            "topic": entry.origin_topic,
            "partition": entry.origin_partition,
            "offset": entry.origin_offset,
        },
        "group": entry.group,
        "first_failure_ms": entry.first_failure_ms,
        "last_failure_ms": entry.last_failure_ms,
    });
    if let Value::Object(fields) = &mut object {
        crate::output::add_value(fields, value);
    }
    object
}

/// One line per entry: where it is, where it came from, why it failed.
pub fn entry_line(entry: &DlqEntry) -> String {
    format!(
        "{}@{}\t{}/{}@{}\tattempts={}\tkey={}\terror={}",
        entry.dlq_partition,
        entry.dlq_offset,
        entry.origin_topic,
        entry.origin_partition,
        entry.origin_offset,
        entry.attempts,
        entry.key_text().unwrap_or_default(),
        entry.error
    )
}

fn entry_details(entry: &DlqEntry, value: &DisplayValue) -> String {
    let mut s = format!(
        "dlq:           {}/{}@{}\norigin:        {}/{}@{}\ngroup:         {}\nerror:         {}\nattempts:      {}\nfirst failure: {} ms\nlast failure:  {} ms\nkey:           {}\n",
        entry.dlq_topic,
        entry.dlq_partition,
        entry.dlq_offset,
        entry.origin_topic,
        entry.origin_partition,
        entry.origin_offset,
        entry.group,
        entry.error,
        entry.attempts,
        entry.first_failure_ms,
        entry.last_failure_ms,
        entry.key_text().unwrap_or_default(),
    );
    for (name, value) in &entry.headers {
        s.push_str(&format!("header:        {name}: {}\n", text(value)));
    }
    s.push_str(&format!(
        "value:         {}\n",
        crate::output::value_text(&entry.value, value)
    ));
    s
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DlqCommand,
    }

    fn entry() -> DlqEntry {
        DlqEntry {
            dlq_topic: "transactions-dlq".into(),
            dlq_partition: 0,
            dlq_offset: 7,
            timestamp_ms: 10,
            key: Some(b"tx-1".to_vec()),
            value: br#"{"amount":"-5"}"#.to_vec(),
            headers: vec![("event_id".into(), b"e1".to_vec())],
            error: "amount must be > 0".into(),
            attempts: 1,
            origin_topic: "transactions".into(),
            origin_partition: 2,
            origin_offset: 41,
            group: "transaction-processors".into(),
            first_failure_ms: 5,
            last_failure_ms: 5,
        }
    }

    #[test]
    fn parses_the_commands() {
        let cli = Cli::parse_from([
            "dlq",
            "list",
            "transactions-dlq",
            "--limit",
            "5",
            "--format",
            "json",
        ]);
        assert!(matches!(
            cli.command,
            DlqCommand::List {
                limit: 5,
                format: Format::Json,
                ..
            }
        ));
        let cli = Cli::parse_from(["dlq", "show", "transactions-dlq", "1", "42"]);
        assert!(matches!(
            cli.command,
            DlqCommand::Show {
                partition: 1,
                offset: 42,
                ..
            }
        ));
        let cli = Cli::parse_from([
            "dlq",
            "redrive",
            "system.dlq",
            "--origin",
            "accounts",
            "--rate",
            "10",
        ]);
        assert!(matches!(
            cli.command,
            DlqCommand::Redrive {
                rate: 10,
                origin: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn renders_json_and_text() {
        let value = DisplayValue::Json(json!({"amount": "-5"}));
        let json = entry_json(&entry(), &value);
        assert_eq!(json["value"]["amount"], "-5");
        assert_eq!(json["origin"]["offset"], 41);
        assert_eq!(json["headers"]["event_id"], "e1");
        let line = entry_line(&entry());
        assert!(line.contains("transactions/2@41"), "{line}");
        assert!(line.contains("error=amount must be > 0"), "{line}");
        assert!(entry_details(&entry(), &value).contains(r#"value:         {"amount":"-5"}"#));
    }
}
