//! The lab's pattern guides (`docs/patterns/`, issue 22) can never drift from the product:
//! every step marked ` ```sh exercise ` runs, in guide order, against one real `edalab up`,
//! from the platform's directory with `EDALAB_URL` set and `edalab` on the `PATH`, and every
//! line of the ` ```text attendu ` block that follows it must appear in the step's standard
//! output (the format is described in `docs/patterns/README.md`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Process, edalab};

/// Longest a step may take (steps wait for asynchronous effects themselves, briefly).
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// One exercise step of a guide.
#[derive(Debug)]
struct Step {
    guide: String,
    line: usize,
    script: String,
    expected: Vec<String>,
}

/// The fenced blocks of `text`: (info string, body, line of the opening fence).
fn fenced_blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (number, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((info.trim().to_owned(), String::new(), number + 1));
                }
            }
            Some((_, body, _)) => {
                if line.trim_end() == "```" {
                    blocks.extend(open.take());
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    blocks
}

/// The exercise steps of the guide at `path`; a step without its `text attendu` block, or
/// with an empty one, is a mistake in the guide.
fn steps_of(path: &Path) -> Vec<Step> {
    let text = std::fs::read_to_string(path).expect("read a guide");
    let guide = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let blocks = fenced_blocks(&text);
    let mut steps = Vec::new();
    for (i, (info, script, line)) in blocks.iter().enumerate() {
        if info != "sh exercise" {
            continue;
        }
        let expected: Vec<String> = match blocks.get(i + 1) {
            Some((info, body, _)) if info == "text attendu" => body
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        assert!(
            !expected.is_empty(),
            "{guide}:{line}: an exercise step needs a non-empty `text attendu` block after it"
        );
        steps.push(Step {
            guide: guide.clone(),
            line: *line,
            script: script.clone(),
            expected,
        });
    }
    steps
}

/// Every guide, in file-name order (`02-…` … `11-…`, then `README.md`).
fn guides() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/patterns");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("docs/patterns")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    paths
}

/// Runs `step` in `dir`; `None` when it passed, else what went wrong.
fn run(step: &Step, dir: &Path, url: &str, path_var: &str) -> Option<String> {
    let mut child = Command::new("sh")
        .args(["-c", &step.script])
        .current_dir(dir)
        .env("EDALAB_URL", url)
        .env("PATH", path_var)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sh");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > STEP_TIMEOUT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&String> = step
        .expected
        .iter()
        .filter(|e| !stdout.contains(e.as_str()))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{}:{} ({:.1} s, {}): missing {missing:?}\n--- stdout\n{}\n--- stderr\n{}",
            step.guide,
            step.line,
            started.elapsed().as_secs_f64(),
            output.status,
            tail(&stdout),
            tail(&String::from_utf8_lossy(&output.stderr)),
        )
    })
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(1500);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

#[test]
fn the_block_parser_pairs_each_step_with_its_observation() {
    let text =
        "x\n```sh exercise\necho a\n```\n\n```text attendu\na\n\n```\n```sh\nnot a step\n```\n";
    let blocks = fenced_blocks(text);
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0], ("sh exercise".into(), "echo a\n".into(), 2));
    assert_eq!(blocks[1].0, "text attendu");
}

#[test]
fn every_guide_exercise_runs_against_a_real_platform() {
    let steps: Vec<Step> = guides().iter().flat_map(|p| steps_of(p)).collect();
    assert!(steps.len() >= 20, "{} exercise steps", steps.len());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = edalab(dir.path());
    command.args(["up", "--listen", "127.0.0.1:0"]);
    let platform = Process::start(command);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_edalab"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path_var = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let path_var = path_var.to_string_lossy().into_owned();
    let failures: Vec<String> = steps
        .iter()
        .filter_map(|step| run(step, dir.path(), &platform.base, &path_var))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} steps failed:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n\n")
    );
    platform.stop();
}
