//! `edalab dlq list|redrive` on an SQS DLQ (`aws.queues: sqs`): the messages SQS's redrive
//! policy moved there, listed without taking them, and moved back to the queue they failed
//! on (`edalab_aws::dead_letters`). SQS keeps no failure reason: the item's status (`GET
//! /api/v1/calculator/{id}`, `/api/v1/transactions/{id}`, `/api/v1/intake/orders/{id}`)
//! holds it.

use std::io::Write;

use anyhow::Context;
use edalab_aws::SqsQueues;
use edalab_aws::dead_letters::SqsDeadLetter;

use crate::dlq::{DlqArgs, DlqCommand, Format};

/// Longest body shown on a text line.
const BODY_CHARS_SHOWN: usize = 120;

/// Runs a `dlq` subcommand on SQS, printing to `out`.
pub async fn run_to(args: DlqArgs, queues: &SqsQueues, out: &mut dyn Write) -> anyhow::Result<()> {
    match args.command {
        DlqCommand::List {
            dlq_topic,
            limit,
            format,
        } => {
            let letters = queues
                .list_dead_letters(&dlq_topic, limit)
                .await
                .with_context(|| format!("listing SQS DLQ `{dlq_topic}`"))?;
            for letter in &letters {
                match format {
                    Format::Json => writeln!(out, "{}", serde_json::to_string(letter)?)?,
                    Format::Text => writeln!(out, "{}", line(letter))?,
                }
            }
        }
        DlqCommand::Show { dlq_topic, .. } => anyhow::bail!(
            "`{dlq_topic}` is an SQS queue: its messages have no partition and offset; \
             `edalab dlq list {dlq_topic} --format json` shows each in full"
        ),
        DlqCommand::Redrive {
            dlq_topic,
            origin,
            rate,
            format,
        } => {
            if let Some(origin) = origin {
                anyhow::bail!(
                    "--origin {origin}: an SQS DLQ is redriven whole, each message to the queue \
                     it failed on"
                );
            }
            let report = queues
                .redrive(&dlq_topic, rate)
                .await
                .with_context(|| format!("redriving SQS DLQ `{dlq_topic}`"))?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
                Format::Text => writeln!(out, "redriven {}", report.moved)?,
            }
        }
    }
    Ok(())
}

fn line(letter: &SqsDeadLetter) -> String {
    let body: String = letter.body.chars().take(BODY_CHARS_SHOWN).collect();
    format!(
        "{} from {} (received {}×, origin {}): {body}",
        letter.message_id,
        letter.source_queue.as_deref().unwrap_or("?"),
        letter.receive_count,
        letter.origin_message_id
    )
}
