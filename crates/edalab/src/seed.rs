//! The topics `edalab up` creates (idempotently), with the settings REQUIREMENTS.md gives.

use edalab_bus::TopicConfig;

const DAY_MS: u64 = 24 * 3600 * 1000;

fn topic(partitions: u32, retention_days: Option<u64>, compression: &str) -> TopicConfig {
    let mut c = TopicConfig::with_partitions(partitions);
    c.retention_ms = retention_days.map(|d| d * DAY_MS);
    c.compression = compression.to_owned();
    c
}

/// `(name, settings)` of every seed topic.
pub fn seed_topics() -> Vec<(&'static str, TopicConfig)> {
    let mut out = Vec::new();
    // S3-02: banking topics, the ledger's rejections and the system DLQ, 3 partitions each.
    for name in [
        "bancaire.compte.ouvert",
        "bancaire.compte.ferme",
        "bancaire.depot.effectue",
        "bancaire.retrait.effectue",
        "bancaire.virement.emis",
        "bancaire.virement.recu",
        "bancaire.paiement-prime.effectue",
        // The ledger's business refusals (issue 4).
        "bancaire.operation.rejetee",
        "system.dlq",
    ] {
        out.push((name, topic(3, None, "none")));
    }
    // S0-04.
    out.push(("transactions-events", topic(3, Some(7), "gzip")));
    out.push(("fraud-alerts", topic(2, None, "none")));
    out.push(("notifications", topic(2, None, "none")));
    // S4-04: 3 partitions, 7 days; DLQs 30 days.
    for name in ["orders.created", "payments.authorized", "payments.rejected"] {
        out.push((name, topic(3, Some(7), "none")));
    }
    for name in ["orders.dlq", "payments.dlq"] {
        out.push((name, topic(3, Some(30), "none")));
    }
    out
}
