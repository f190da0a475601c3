//! Crash tests with real processes on real disk: the `edalab` binary is SIGKILLed while it
//! produces and while it consumes, repeatedly. Every acknowledged message (a `partition
//! offset` line it printed) must be there after recovery with its content, and a consumer
//! must resume exactly at its committed position.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::{Admin, Producer, Record};

fn edalab(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_edalab"));
    c.arg("--data-dir").arg(data_dir);
    c
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run edalab");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Complete (newline-terminated) lines only: a process killed mid-write can leave half a
/// line, which must not be mistaken for an acknowledgement.
fn complete_lines(r: impl std::io::Read) -> impl Iterator<Item = String> {
    let mut r = BufReader::new(r);
    std::iter::from_fn(move || {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => {
                line.pop();
                Some(line)
            }
            _ => None,
        }
    })
}

/// A small deterministic generator (xorshift) so a failing run can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_mid_produce_never_loses_an_acknowledged_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_ok(edalab(dir.path()).args(["topics", "create", "crash", "--partitions", "3"]));
    let seed = 0x5eed_u64;
    let mut rng = Rng(seed);
    let mut acked: BTreeMap<(u32, u64), String> = BTreeMap::new();
    for round in 0..12 {
        let mut child = edalab(dir.path())
            .args(["produce", "crash", "--batch-records-max", "200"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn produce");
        let mut stdin = child.stdin.take().expect("stdin");
        let feeder = std::thread::spawn(move || {
            // Write until the child dies (EPIPE). Values vary in size so frames vary.
            for j in 0u64.. {
                let pad = "p".repeat((j % 7 * 40) as usize);
                if writeln!(stdin, "r{round}-m{j}-{pad}").is_err() {
                    return;
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = complete_lines(stdout);
        let kill_after = 20 + rng.below(3000);
        let mut j = 0u64;
        let mut record = |line: &str, j: u64| {
            let (p, o) = line.split_once(' ').expect("`partition offset`");
            let pad = "p".repeat((j % 7 * 40) as usize);
            let key = (p.parse().expect("partition"), o.parse().expect("offset"));
            let previous = acked.insert(key, format!("r{round}-m{j}-{pad}"));
            assert!(previous.is_none(), "offset {key:?} acknowledged twice");
        };
        while j < kill_after {
            let Some(line) = lines.next() else { break };
            record(&line, j);
            j += 1;
        }
        child.kill().expect("SIGKILL");
        // Lines printed before death were acknowledged too.
        for line in lines {
            record(&line, j);
            j += 1;
        }
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "round {round}: the child must have been killed"
        );
        feeder.join().expect("feeder");
        assert!(
            j > 0,
            "round {round} (seed {seed:#x}): nothing was acknowledged"
        );
    }
    // SIGKILL rarely lands inside a `pwrite`, so also leave the torn tail such a kill would:
    // the start of a frame whose declared length runs past the end of the file.
    let seg_dir = dir.path().join("bus/topics/crash/0");
    let mut segs: Vec<_> = std::fs::read_dir(&seg_dir)
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    let last = segs.pop().expect("a segment");
    let first_frame =
        std::fs::read(segs.first().cloned().unwrap_or_else(|| last.clone())).expect("read");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .expect("open segment");
    f.write_all(&first_frame[..first_frame.len().min(40)])
        .expect("append torn bytes");
    drop(f);
    // Reopen (recovery truncates torn tails) and check every acknowledged message.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let bus =
            EmbeddedBus::open(dir.path(), LogConfig::default()).expect("reopen after crashes");
        for ((p, o), expected) in &acked {
            let (msgs, _) = bus.read("crash", *p, *o, 1).expect("read");
            let m = msgs
                .first()
                .unwrap_or_else(|| panic!("acknowledged {p}/{o} is missing"));
            assert_eq!(m.offset, *o);
            assert_eq!(
                String::from_utf8_lossy(&m.value),
                *expected,
                "content of {p}/{o}"
            );
        }
        // The log stays writable after all those crashes.
        bus.produce("crash", vec![Record::new(None, b"after".to_vec())])
            .await
            .expect("produce");
        bus.close().await.expect("close");
    });
    assert!(acked.len() >= 12, "acknowledged: {}", acked.len());
}

fn committed_on_disk(dir: &Path, group: &str) -> BTreeMap<u32, u64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let bus = EmbeddedBus::open(dir, LogConfig::default()).expect("open");
        let lag = bus.group_lag(group).await.unwrap_or_default();
        bus.close().await.expect("close");
        lag.into_iter()
            .filter_map(|l| l.committed.map(|c| (l.partition, c)))
            .collect()
    })
}

#[test]
fn sigkill_mid_consume_resumes_at_the_committed_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let total = 3000u64;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
        bus.create_topic("cc", edalab_bus::TopicConfig::with_partitions(3))
            .await
            .expect("create");
        let records = (0..total).map(|i| {
            Record::new(
                Some(format!("k{i}").into_bytes()),
                format!("v{i}").into_bytes(),
            )
        });
        bus.produce("cc", records.collect()).await.expect("produce");
        bus.close().await.expect("close");
    });
    drop(rt);
    let mut rng = Rng(0xc0ffee);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut expected_start: BTreeMap<u32, u64> = BTreeMap::new();
    for round in 0..6 {
        let last = round == 5;
        let mut cmd = edalab(dir.path());
        cmd.args(["consume", "cc", "--group", "g", "--poll-records-max", "50"]);
        if last {
            cmd.args(["--idle-exit-ms", "3000"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn consume");
        let stdout = child.stdout.take().expect("stdout");
        let kill_after = if last { u64::MAX } else { 100 + rng.below(500) };
        let mut printed_commits: BTreeMap<u32, u64> = BTreeMap::new();
        let mut first_seen: BTreeMap<u32, u64> = BTreeMap::new();
        let mut n = 0;
        for line in complete_lines(stdout) {
            let parts: Vec<&str> = line.splitn(4, ' ').collect();
            match parts.as_slice() {
                ["message", p, o, v] => {
                    let (p, o): (u32, u64) = (p.parse().expect("p"), o.parse().expect("o"));
                    first_seen.entry(p).or_insert(o);
                    seen.insert((*v).to_owned());
                    n += 1;
                    if n == kill_after {
                        child.kill().expect("SIGKILL");
                    }
                }
                ["committed", p, o] => {
                    printed_commits.insert(p.parse().expect("p"), o.parse().expect("o"));
                }
                _ => panic!("unexpected line {line:?}"),
            }
        }
        let status = child.wait().expect("wait");
        if last {
            assert!(status.success(), "final consumer exits cleanly");
        }
        // Resumed exactly where the previous run's durable commit left each partition.
        for (p, first) in &first_seen {
            assert_eq!(
                *first,
                expected_start.get(p).copied().unwrap_or(0),
                "round {round}: partition {p} resumed at the committed position"
            );
        }
        let on_disk = committed_on_disk(dir.path(), "g");
        for (p, printed) in &printed_commits {
            assert!(
                on_disk.get(p).copied().unwrap_or(0) >= *printed,
                "a printed commit is durable"
            );
        }
        expected_start = on_disk;
    }
    assert_eq!(
        seen.len() as u64,
        total,
        "every message consumed at least once"
    );
    assert_eq!(
        expected_start.values().sum::<u64>(),
        total,
        "everything committed at the end"
    );
}
