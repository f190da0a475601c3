//! `edalab consumers`: the consumer controls of a running platform over its REST routes
//! (`/api/v1/consumers`, issue 22) — see a group's members, their partitions and the lag,
//! pause, resume, scale. Talks to `--target` (default `EDALAB_URL`, else
//! `http://127.0.0.1:8080`) like `simulate --target`.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::cli::Format;
use crate::target::{HttpTarget, Limits};

/// Longer than a pause's drain (the runtime's `shutdown_drain_ms_max`, 10 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Args, Debug)]
pub struct ConsumersArgs {
    #[command(subcommand)]
    pub action: Action,
    /// The running platform (`http://HOST:PORT`).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "EDALAB_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub target: String,
    /// The bearer token of a --target that requires one (docs/security.md).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "EDALAB_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// `text` (a table) or `json` (the API's answer).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Members, their partitions, and the lag per partition (every group without GROUP).
    Status { group: Option<String> },
    /// Every member finishes what it fetched, commits and leaves; records wait in the log.
    Pause { group: String },
    /// The members start again from the committed positions.
    Resume { group: String },
    /// Run N members (1..=16) in the platform's process; they split the partitions.
    Scale {
        group: String,
        #[arg(value_name = "N")]
        members: u32,
    },
}

pub async fn run(args: ConsumersArgs) -> anyhow::Result<()> {
    let limits = Limits {
        request_timeout: REQUEST_TIMEOUT,
        in_flight_max: 1,
    };
    let target = HttpTarget::parse(&args.target, args.token.clone(), limits)?;
    target.check().await?;
    let (method, path, body) = match &args.action {
        Action::Status { group: None } => (reqwest::Method::GET, String::new(), None),
        Action::Status { group: Some(g) } => (reqwest::Method::GET, format!("/{g}"), None),
        Action::Pause { group } => (reqwest::Method::POST, format!("/{group}/pause"), None),
        Action::Resume { group } => (reqwest::Method::POST, format!("/{group}/resume"), None),
        Action::Scale { group, members } => (
            reqwest::Method::PUT,
            format!("/{group}/members"),
            Some(serde_json::json!({ "members": members })),
        ),
    };
    let answer = call(&target, method, &path, body).await?;
    match args.format {
        Format::Json => println!("{answer}"),
        Format::Text => {
            let groups = match answer.get("groups") {
                Some(Value::Array(groups)) => groups.clone(),
                _ => vec![answer],
            };
            for group in &groups {
                print!("{}", describe(group));
            }
        }
    }
    Ok(())
}

async fn call(
    target: &HttpTarget,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}/api/v1/consumers{path}", target.base);
    let mut request = target.authorized(target.client.request(method.clone(), &url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| {
        anyhow::anyhow!(
            "{method} {url}: {}",
            edalab_domain::validation::error_chain(&e)
        )
    })?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let details: Vec<String> = answer["details"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| format!("{}: {}", d["field"].as_str().unwrap_or("?"), d["message"]))
            .collect();
        anyhow::bail!(
            "{method} {url}: {status}: {}{}",
            answer["error"].as_str().unwrap_or("no error message"),
            if details.is_empty() {
                String::new()
            } else {
                format!(" ({})", details.join("; "))
            }
        );
    }
    Ok(answer)
}

/// A group as text: a header line, one line per member, one per partition.
fn describe(group: &Value) -> String {
    let members = group["members"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "group {} · {} · {} member{} (target {}) · lag {} · instance {}\n",
        text(&group["group"]),
        text(&group["state"]),
        members.len(),
        if members.len() == 1 { "" } else { "s" },
        group["members_target"],
        group["lag_total"],
        text(&group["instance"]),
    );
    for member in &members {
        let held = member["partitions"].as_array().map_or(0, Vec::len);
        out.push_str(&format!(
            "  member {}: {held} partitions, {} messages done\n",
            member["member"], member["messages_done_total"]
        ));
    }
    out.push_str(&format!(
        "  {:<34} {:>10} {:>10} {:>8}  member\n",
        "partition", "committed", "end", "lag"
    ));
    for p in group["partitions"].as_array().into_iter().flatten() {
        let name = format!("{}/{}", text(&p["topic"]), p["partition"]);
        let holder = match p["member"].as_u64() {
            Some(m) => m.to_string(),
            None => "-".to_owned(),
        };
        out.push_str(&format!(
            "  {name:<34} {:>10} {:>10} {:>8}  {holder}\n",
            p["committed"]
                .as_u64()
                .map_or("-".to_owned(), |c| c.to_string()),
            p["high_watermark"],
            p["lag"],
        ));
    }
    out
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_reads_as_a_table() {
        let group = serde_json::json!({
            "group": "ledger", "state": "running", "members_target": 2, "instance": "h:1",
            "lag_total": 5,
            "members": [
                {"member": 1, "partitions": ["a/0"], "messages_done_total": 7, "messages_in_flight": 0},
                {"member": 2, "partitions": ["a/1"], "messages_done_total": 3, "messages_in_flight": 0}
            ],
            "partitions": [
                {"topic": "a", "partition": 0, "committed": 7, "high_watermark": 7, "lag": 0, "member": 1},
                {"topic": "a", "partition": 1, "committed": null, "high_watermark": 5, "lag": 5, "member": null}
            ]
        });
        let text = describe(&group);
        assert!(
            text.starts_with(
                "group ledger · running · 2 members (target 2) · lag 5 · instance h:1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  member 1: 1 partitions, 7 messages done\n"),
            "{text}"
        );
        assert!(text.contains("a/1"), "{text}");
        let last = text.lines().last().unwrap();
        assert!(
            last.split_whitespace().eq(["a/1", "-", "5", "5", "-"]),
            "{last}"
        );
    }
}
