//! The durable offset floor: per partition, an end offset known acknowledged, kept in
//! `bus/floors.json` so that a tail that lost acknowledged records is detected on open even
//! when no consumer group read it, and the check that refuses such a log.
//!
//! Owns `bus/floors.json` and the rule "never reuse an offset" (ADR 020). The writer thread
//! rewrites the file (atomically: tmp, fsync, rename, directory fsync) at most once per
//! `offset_floor_interval_ms`, only when an end moved and only with ends that are durable
//! under the fsync policy, so its cost is bounded (two flushes a second at most) whatever
//! the load. A floor is therefore at most one interval behind the acknowledged end; the
//! consumer groups' committed offsets cover what they applied meanwhile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::group::Group;
use super::{Topic, io_err, lock, write_atomically};
use crate::port::{BusError, LostRecords, TopicPartition};

/// End offsets by partition.
pub(crate) type Ends = BTreeMap<TopicPartition, u64>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorsFile {
    partitions: Vec<FloorEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorEntry {
    topic: String,
    partition: u32,
    end: u64,
}

/// `bus/floors.json` of a bus root.
pub(crate) fn floors_path(root: &Path) -> PathBuf {
    root.join("floors.json")
}

/// Reads the floors; a missing file is no floor at all (a log created before floors).
pub(crate) fn load(root: &Path) -> Result<Ends, BusError> {
    let path = floors_path(root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ends::new()),
        Err(e) => return Err(io_err(&path, e)),
    };
    let file: FloorsFile = serde_json::from_slice(&bytes).map_err(|e| BusError::Corrupt {
        path: path.display().to_string(),
        reason: format!("offset floors do not parse: {e}"),
    })?;
    Ok(file
        .partitions
        .into_iter()
        .map(|e| {
            let tp = TopicPartition {
                topic: e.topic,
                partition: e.partition,
            };
            (tp, e.end)
        })
        .collect())
}

/// Replaces the floors file with `ends`.
pub(crate) fn store(root: &Path, ends: &Ends) -> Result<(), BusError> {
    let file = FloorsFile {
        partitions: ends
            .iter()
            .map(|(tp, end)| FloorEntry {
                topic: tp.topic.clone(),
                partition: tp.partition,
                end: *end,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&file).map_err(|e| BusError::Backend(e.to_string()))?;
    write_atomically(&floors_path(root), &bytes)
}

/// The current end of every partition (the writer's view, published to readers).
pub(crate) fn current_ends(topics: &BTreeMap<String, Arc<Topic>>) -> Ends {
    let mut out = Ends::new();
    for topic in topics.values().filter(|t| !t.is_deleted()) {
        for p in &topic.partitions {
            let tp = TopicPartition {
                topic: topic.name.to_string(),
                partition: p.id,
            };
            out.insert(tp, p.view().high_watermark);
        }
    }
    out
}

/// Every partition whose recovered end is below a floor or a group's committed offset, with
/// the highest such offset as its acknowledged end. Positions on topics that no longer
/// exist are ignored (a deleted topic's offsets are not evidence about a new one).
pub(crate) fn find_losses(
    topics: &BTreeMap<String, Arc<Topic>>,
    groups: &BTreeMap<String, Arc<Group>>,
    floors: &Ends,
) -> Vec<LostRecords> {
    let mut worst: BTreeMap<TopicPartition, (u64, String)> = BTreeMap::new();
    // Groups come last and win ties: "group `ledger` committed 30" says more than a floor.
    let mut raise = |tp: &TopicPartition, end: u64, evidence: String| {
        if worst.get(tp).is_none_or(|(e, _)| end >= *e) {
            worst.insert(tp.clone(), (end, evidence));
        }
    };
    for (tp, end) in floors {
        raise(tp, *end, format!("durable offset floor {end}"));
    }
    for group in groups.values() {
        for (tp, offset) in &lock(&group.state).committed {
            raise(
                tp,
                *offset,
                format!("consumer group `{}` committed {offset}", group.name),
            );
        }
    }
    let mut out = Vec::new();
    for (tp, (acknowledged_end, evidence)) in worst {
        let Some(p) = topics
            .get(&tp.topic)
            .and_then(|t| t.partitions.get(tp.partition as usize))
        else {
            continue;
        };
        let recovered_end = p.view().high_watermark;
        if recovered_end < acknowledged_end {
            out.push(LostRecords {
                topic: tp.topic,
                partition: tp.partition,
                recovered_end,
                acknowledged_end,
                evidence,
            });
        }
    }
    out
}
