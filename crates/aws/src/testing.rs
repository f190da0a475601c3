//! Test support: a real AWS API emulator (ministack, `../shared/AWS_PEER.md`) started for a
//! test and stopped with it, as `edalab_bus::kafka::testing::Tansu` does for Kafka.
//!
//! Owns one `ministack` child process per [`MiniStack`]: on a free port of 127.0.0.1
//! (`GATEWAY_PORT`; it binds 0.0.0.0 whatever is asked), in its own process group (it keeps
//! worker processes for Lambdas), from a fresh temporary directory that also holds its log.
//! Ready once `/_ministack/ready` answers 200. On drop: SIGTERM to the group, SIGKILL after
//! 5 s, reaped, its directories removed. The binary is found in `$EDALAB_MINISTACK`, else
//! where `scripts/ensure-tools.sh` installs it (`~/.cache/edalab/bin/ministack`, PyPI's
//! `ministack==1.5.33` with `cbor2==6.3.0`).
//!
//! Clients are configured explicitly ([`MiniStack::sqs`]): endpoint, region `us-east-1`, any
//! static key; no `AWS_*` variable of the test's environment is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use edalab_bus::peer;

/// Where `scripts/ensure-tools.sh` links ministack, relative to the home directory.
const INSTALLED_AT: &str = ".cache/edalab/bin/ministack";

/// What to run to install ministack, said when it is missing.
const INSTALL_HINT: &str = "run `scripts/ensure-tools.sh` (installs PyPI's ministack==1.5.33 and \
                            cbor2==6.3.0 into ~/.cache/edalab) or set EDALAB_MINISTACK to a \
                            ministack executable";

/// How long a starting emulator has to answer its readiness route.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopping emulator has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The region the tests use.
pub const REGION: &str = "us-east-1";

/// A running ministack; stopped (its process group terminated, reaped, its directories
/// removed) on drop.
#[derive(Debug)]
pub struct MiniStack {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl MiniStack {
    /// Where the ministack executable is, if anywhere.
    pub fn find() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("EDALAB_MINISTACK") {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let home = std::env::var_os("HOME")?;
        let path = Path::new(&home).join(INSTALLED_AT);
        path.is_file().then_some(path)
    }

    /// Starts an emulator for `test`, or `None` when ministack is not installed and `CI` is
    /// not `true` (the test then returns after saying so). Under `CI=true` a missing
    /// ministack, like one that does not start, fails the test.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        let missing = format!(
            "{test}: ministack not found ($EDALAB_MINISTACK, ~/{INSTALLED_AT}): {INSTALL_HINT}"
        );
        let binary = peer::found_or_skip(Self::find(), missing, "an AWS test")?;
        match Self::start(&binary) {
            Ok(ministack) => Some(ministack),
            Err(e) => panic!("{test}: cannot start ministack ({}): {e}", binary.display()),
        }
    }

    /// Starts `binary` on a free port and waits until it is ready.
    pub fn start(binary: &Path) -> Result<Self, String> {
        let port = peer::free_port()?;
        let (dir, log, log_err) = peer::scratch_with_log("ministack", port)?;
        let child = Command::new(binary)
            .current_dir(&dir)
            .env("GATEWAY_PORT", port.to_string())
            // Lambdas it runs reach it here (ADR 026: it injects this into functions only
            // when it runs with it).
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut ministack = Self { child, dir, port };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = ministack.child.try_wait() {
                return Err(format!("exited with {status}: {}", ministack.log()));
            }
            if ready(port) {
                return Ok(ministack);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready on port {port} after {START_TIMEOUT:?}: {}",
                    ministack.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`, the endpoint of every service.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SQS client of this emulator, configured explicitly.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        crate::client::sqs_explicit(&self.endpoint_url(), REGION, "test", "test")
    }

    /// An SDK configuration of this emulator, for its other services' clients
    /// ([`crate::backends::s3_client`], `aws_sdk_dynamodb::Client::new`, …).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::client::explicit_sdk_config(&self.endpoint_url(), REGION, "test", "test")
    }

    /// What the emulator wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ministack.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        let group = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Its workers may outlive it: end the rest of the group too.
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

impl Drop for MiniStack {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("ministack-provided-code-{}", self.port)),
        );
    }
}

/// Whether `GET /_ministack/ready` answers 200 (plain HTTP/1.0 over std: no client needed).
fn ready(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /_ministack/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}
