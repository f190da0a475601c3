//! `deploy/` (the Docker Compose deployment, S3-01/S3-14/S4-04) checked without Docker,
//! against the real binary and the real configuration loader:
//!
//! - the compose file has every container, sound `depends_on`, healthchecks, Kafka in KRaft
//!   mode without auto topic creation, 3 partitions and 7 days by default;
//! - every edalab container's `command` is accepted by the binary's own argument parser, and
//!   names `serve` services the binary lists;
//! - `config/docker.yaml` plus each container's `EDALAB__…` variables load through
//!   `Config::load` (unknown keys refused), and the hosts and ports they name are compose
//!   services listening there;
//! - Prometheus scrapes every edalab container, on the port it listens on;
//! - Grafana's datasource and dashboard provider match the compose mounts, every dashboard
//!   query parses as PromQL, and every metric (and label) it names is one that a running
//!   `edalab up` exports, or one of kafka-exporter's or Prometheus' own;
//! - security is on by default (ADR 018): every edalab container requires the token
//!   `EDALAB_TOKEN` (no default; the binary refuses to start without it), Grafana's admin
//!   password has no default, and every port is published on 127.0.0.1 unless
//!   `EDALAB_PUBLISH_ADDRESS` says otherwise;
//! - the Dockerfile copies files that exist, that `.dockerignore` keeps, and everything the
//!   build reads (`include_str!`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edalab::config::{Config, ConfigSources};
use serde_yaml::Value;

/// The edalab containers of `deploy/compose.yaml`, and the `serve` service each runs.
const EDALAB_CONTAINERS: [(&str, &str); 8] = [
    ("ledger-1", "ledger"),
    ("ledger-2", "ledger"),
    ("simulator", "simulator"),
    ("transactions", "transactions"),
    ("calculator", "calculator"),
    ("intake", "intake"),
    ("orders", "orders"),
    ("gateway", "gateway"),
];

/// The other containers.
const INFRASTRUCTURE: [&str; 6] = [
    "kafka",
    "schema-registry",
    "postgres",
    "kafka-exporter",
    "prometheus",
    "grafana",
];

/// Variables the user must set (`deploy/.env.example`), and the values the checks use for
/// them (compose's `${NAME:?message}` form).
const USER_SET: [(&str, &str); 2] = [
    ("EDALAB_TOKEN", "deploy-test-token-0123456789abcdef"),
    ("GRAFANA_ADMIN_PASSWORD", "deploy-test-password"),
];

/// `text` with compose's `${NAME:?message}` (a variable the user must set: the value of
/// [`USER_SET`]) and `${NAME:-default}` (the default) replaced; any other `$` is refused.
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("{text:?}: unclosed ${{"));
        let inner = &rest[start + 2..start + end];
        if let Some((name, _)) = inner.split_once(":?") {
            let value = USER_SET
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| {
                    panic!("{text:?}: {name} is not a variable users are told to set")
                });
            out.push_str(value.1);
        } else if let Some((_, default)) = inner.split_once(":-") {
            out.push_str(default);
        } else {
            panic!("{text:?}: ${{{inner}}} has neither a default nor a required message");
        }
        rest = &rest[start + end + 1..];
    }
    assert!(!rest.contains('$'), "{text:?}: a bare `$`");
    out.push_str(rest);
    out
}

/// Host ports the README promises.
const PUBLISHED: [(&str, u16); 5] = [
    ("gateway", 8080),
    ("grafana", 3000),
    ("prometheus", 9090),
    ("schema-registry", 8081),
    ("kafka", 9092),
];

/// Metrics kafka-exporter (`danielqsj/kafka-exporter`, the image in compose.yaml) exports,
/// as listed in its README: the dashboards may use these.
const KAFKA_EXPORTER_METRICS: [&str; 15] = [
    "kafka_brokers",
    "kafka_broker_info",
    "kafka_topic_partitions",
    "kafka_topic_partition_current_offset",
    "kafka_topic_partition_oldest_offset",
    "kafka_topic_partition_in_sync_replica",
    "kafka_topic_partition_leader",
    "kafka_topic_partition_leader_is_preferred",
    "kafka_topic_partition_replicas",
    "kafka_topic_partition_under_replicated_partition",
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_current_offset_sum",
    "kafka_consumergroup_lag",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_members",
];

/// Series Prometheus writes for every target.
const PROMETHEUS_SYNTHETIC: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Labels Prometheus puts on every scraped series.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    let mut value: Value = serde_yaml::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    value
        .apply_merge()
        .unwrap_or_else(|e| panic!("{}: bad `<<` merge: {e}", path.display()));
    value
}

/// `deploy/compose.yaml`, with `<<` merges applied.
struct Compose(Value);

impl Compose {
    fn load() -> Self {
        Self(yaml(&repo().join("deploy/compose.yaml")))
    }

    fn names(&self) -> BTreeSet<String> {
        self.0["services"]
            .as_mapping()
            .expect("compose.yaml: `services` is a mapping")
            .keys()
            .map(|k| k.as_str().expect("service name").to_owned())
            .collect()
    }

    fn service(&self, name: &str) -> &Value {
        let service = &self.0["services"][name];
        assert!(service.is_mapping(), "compose.yaml has no service `{name}`");
        service
    }

    /// `environment` as name → value, from either compose form (mapping or `K=V` list).
    fn env(&self, name: &str) -> BTreeMap<String, String> {
        match &self.service(name)["environment"] {
            Value::Null => BTreeMap::new(),
            Value::Mapping(map) => map
                .iter()
                .map(|(k, v)| (k.as_str().expect("env name").to_owned(), scalar(v)))
                .collect(),
            Value::Sequence(list) => list
                .iter()
                .map(|item| {
                    let text = scalar(item);
                    let (k, v) = text.split_once('=').unwrap_or((&text, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
            other => panic!("{name}: `environment` is neither a mapping nor a list: {other:?}"),
        }
    }

    fn strings(&self, name: &str, key: &str) -> Vec<String> {
        match &self.service(name)[key] {
            Value::Null => Vec::new(),
            Value::Sequence(list) => list.iter().map(|v| interpolate(&scalar(v))).collect(),
            Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
            other => panic!("{name}: `{key}` is not a list: {other:?}"),
        }
    }

    /// Ports the container listens on, as its compose entry declares them (`expose`, and
    /// the container side of `ports`).
    fn container_ports(&self, name: &str) -> BTreeSet<u16> {
        let mut ports = BTreeSet::new();
        for entry in self.strings(name, "expose") {
            ports.insert(port(&entry, name));
        }
        for entry in self.strings(name, "ports") {
            let container = entry.rsplit(':').next().expect("port");
            ports.insert(port(container, name));
        }
        ports
    }

    /// Host ports published by the container.
    fn host_ports(&self, name: &str) -> BTreeSet<u16> {
        self.strings(name, "ports")
            .iter()
            .map(|entry| {
                let parts: Vec<&str> = entry.split(':').collect();
                assert!(parts.len() >= 2, "{name}: port {entry:?} is not published");
                port(parts[parts.len() - 2], name)
            })
            .collect()
    }

    /// Bind mounts as (host path resolved from deploy/, container path).
    fn mounts(&self, name: &str) -> Vec<(PathBuf, String)> {
        self.strings(name, "volumes")
            .iter()
            .filter(|v| v.starts_with('.') || v.starts_with('/'))
            .map(|v| {
                let mut parts = v.split(':');
                let host = parts.next().expect("host path");
                let container = parts.next().unwrap_or_else(|| panic!("{name}: {v}"));
                (repo().join("deploy").join(host), container.to_owned())
            })
            .collect()
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn port(text: &str, what: &str) -> u16 {
    text.trim()
        .trim_end_matches("/tcp")
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {text:?} is not a port"))
}

/// `http://host:port[/...]` or `host:port` → (host, port).
fn host_port(text: &str) -> (String, u16) {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let rest = rest.split('/').next().expect("authority");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let (host, port_text) = rest
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{text:?} has no port"));
    (host.to_owned(), port(port_text, text))
}

/// The image's files: Dockerfile stages and their COPY instructions.
struct Dockerfile {
    /// (stage name, `--from` stage or None, sources, destination)
    copies: Vec<(String, Option<String>, Vec<String>, String)>,
    entrypoint: String,
    /// The last `USER` of the last stage.
    user: Option<String>,
    /// `RUN` lines per stage.
    runs: Vec<(String, String)>,
    /// The last `WORKDIR` of the last stage.
    workdir: String,
}

impl Dockerfile {
    fn load() -> Self {
        let text = read(&repo().join("deploy/Dockerfile"));
        let joined = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("\\\n", " ");
        let mut stage = String::new();
        let mut out = Self {
            copies: Vec::new(),
            entrypoint: String::new(),
            user: None,
            runs: Vec::new(),
            workdir: "/".to_owned(),
        };
        for line in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (instruction, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let words: Vec<&str> = args.split_whitespace().collect();
            match instruction.to_ascii_uppercase().as_str() {
                "FROM" => {
                    stage = match words.as_slice() {
                        [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                        _ => words.first().copied().unwrap_or_default().to_owned(),
                    };
                    out.user = None;
                    out.workdir = "/".to_owned();
                }
                "COPY" | "ADD" => {
                    assert!(
                        !args.trim_start().starts_with('['),
                        "JSON-form COPY: {line}"
                    );
                    let from = words
                        .iter()
                        .find_map(|w| w.strip_prefix("--from="))
                        .map(str::to_owned);
                    let paths: Vec<String> = words
                        .iter()
                        .filter(|w| !w.starts_with("--"))
                        .map(|w| (*w).to_owned())
                        .collect();
                    let (dest, sources) = paths.split_last().expect("COPY needs a destination");
                    assert!(!sources.is_empty(), "COPY without a source: {line}");
                    out.copies
                        .push((stage.clone(), from, sources.to_vec(), dest.clone()));
                }
                "ENTRYPOINT" => out.entrypoint = args.trim().to_owned(),
                "USER" => out.user = Some(args.trim().to_owned()),
                "RUN" => out.runs.push((stage.clone(), args.to_owned())),
                "WORKDIR" => out.workdir = args.trim().to_owned(),
                _ => {}
            }
        }
        out
    }

    /// The repository file copied to `dest` in the final stage.
    fn source_of(&self, dest: &str) -> PathBuf {
        let (_, _, sources, _) = self
            .copies
            .iter()
            .find(|(_, from, _, d)| from.is_none() && d == dest)
            .unwrap_or_else(|| {
                panic!("the Dockerfile copies nothing from the repository to {dest}")
            });
        repo().join(&sources[0])
    }
}

/// The configuration a container runs with: `--config` from its command (a file the
/// Dockerfile copies from the repository) and its `EDALAB__…` environment.
fn container_config(compose: &Compose, dockerfile: &Dockerfile, name: &str) -> Config {
    let command = compose.strings(name, "command");
    let file = command
        .iter()
        .position(|w| w == "--config")
        .and_then(|i| command.get(i + 1))
        .unwrap_or_else(|| panic!("{name}: the command has no `--config FILE`: {command:?}"));
    let env: Vec<(String, String)> = compose
        .env(name)
        .into_iter()
        .filter(|(k, _)| k.starts_with("EDALAB"))
        .collect();
    for (key, _) in &env {
        assert!(
            key.starts_with(edalab::config::ENV_PREFIX),
            "{name}: {key} does not start with EDALAB__: the binary would ignore it"
        );
    }
    let env = env
        .into_iter()
        .map(|(key, value)| (key, interpolate(&value)))
        .collect();
    let sources = ConfigSources {
        file: Some(dockerfile.source_of(file)),
        default_file: None,
        env,
        overrides: Vec::new(),
    };
    Config::load(&sources)
        .unwrap_or_else(|e| panic!("{name}: the binary refuses its configuration: {e}"))
}

/// The port an edalab container listens on (`server.listen`).
fn edalab_port(compose: &Compose, dockerfile: &Dockerfile, name: &str) -> u16 {
    container_config(compose, dockerfile, name)
        .server
        .listen
        .0
        .port()
}

#[test]
fn compose_has_every_container_in_a_sound_order() {
    let compose = Compose::load();
    let names = compose.names();
    let expected: BTreeSet<String> = EDALAB_CONTAINERS
        .iter()
        .map(|(n, _)| *n)
        .chain(INFRASTRUCTURE)
        .map(str::to_owned)
        .collect();
    assert_eq!(names, expected, "compose.yaml's services");

    for name in &names {
        let service = compose.service(name);
        match &service["depends_on"] {
            Value::Null => {}
            Value::Sequence(list) => {
                for dep in list {
                    let dep = scalar(dep);
                    assert!(names.contains(&dep), "{name} depends on unknown `{dep}`");
                }
            }
            Value::Mapping(map) => {
                for (dep, how) in map {
                    let dep = scalar(dep);
                    assert!(names.contains(&dep), "{name} depends on unknown `{dep}`");
                    let condition = scalar(&how["condition"]);
                    assert!(
                        [
                            "service_started",
                            "service_healthy",
                            "service_completed_successfully"
                        ]
                        .contains(&condition.as_str()),
                        "{name} → {dep}: unknown condition {condition:?}"
                    );
                    if condition == "service_healthy" {
                        assert!(
                            compose.service(&dep)["healthcheck"]["test"].is_sequence(),
                            "{name} waits for `{dep}` to be healthy, which has no healthcheck"
                        );
                    }
                }
            }
            other => panic!("{name}: depends_on is {other:?}"),
        }
    }

    let dockerfile = repo().join("deploy/Dockerfile");
    for (name, _) in EDALAB_CONTAINERS {
        let service = compose.service(name);
        assert_eq!(
            scalar(&service["image"]),
            scalar(&compose.service("ledger-1")["image"]),
            "{name}: every edalab container runs the same image"
        );
        let context = repo()
            .join("deploy")
            .join(scalar(&service["build"]["context"]));
        assert_eq!(
            context.canonicalize().expect("build context"),
            repo(),
            "{name}: the build context is the repository root"
        );
        assert_eq!(
            context
                .join(scalar(&service["build"]["dockerfile"]))
                .canonicalize()
                .ok(),
            dockerfile.canonicalize().ok(),
            "{name}: builds deploy/Dockerfile"
        );
        for infra in ["kafka", "postgres", "schema-registry"] {
            assert_eq!(
                scalar(&service["depends_on"][infra]["condition"]),
                "service_healthy",
                "{name} starts once {infra} is healthy"
            );
        }
        let test: Vec<String> = service["healthcheck"]["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} has no healthcheck"))
            .iter()
            .map(scalar)
            .collect();
        assert!(
            test.iter().any(|w| w.ends_with("/api/v1/health")),
            "{name}: the healthcheck asks /api/v1/health: {test:?}"
        );
    }

    for (name, host_port) in PUBLISHED {
        assert!(
            compose.host_ports(name).contains(&host_port),
            "{name} is published on the host's port {host_port}"
        );
    }

    // Kafka: KRaft, no ZooKeeper, S4-04's defaults.
    let kafka = compose.env("kafka");
    assert!(
        kafka["KAFKA_PROCESS_ROLES"].contains("controller")
            && kafka["KAFKA_PROCESS_ROLES"].contains("broker"),
        "a single KRaft node is both broker and controller"
    );
    assert!(
        !kafka.keys().any(|k| k.contains("ZOOKEEPER")),
        "KRaft needs no ZooKeeper"
    );
    assert!(kafka.contains_key("CLUSTER_ID"), "KRaft needs a cluster id");
    assert_eq!(kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false");
    assert_eq!(kafka["KAFKA_NUM_PARTITIONS"], "3");
    assert_eq!(kafka["KAFKA_LOG_RETENTION_HOURS"], (7 * 24).to_string());
    assert_eq!(kafka["KAFKA_LOG_CLEANUP_POLICY"], "delete");
    let registry = compose.env("schema-registry");
    assert_eq!(
        registry["SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL"].to_ascii_lowercase(),
        "backward"
    );
    let (host, port) = host_port(&registry["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]);
    assert_eq!(
        (host.as_str(), port),
        ("kafka", kafka_internal_port(&kafka))
    );
}

/// The port of the listener Kafka advertises as `kafka:<port>` to the compose network.
fn kafka_internal_port(kafka: &BTreeMap<String, String>) -> u16 {
    kafka["KAFKA_ADVERTISED_LISTENERS"]
        .split(',')
        .map(host_port)
        .find(|(host, _)| host == "kafka")
        .expect("Kafka advertises a listener as kafka:<port> to the other containers")
        .1
}

#[test]
fn every_command_is_one_the_binary_accepts() {
    let compose = Compose::load();
    // The services `serve` accepts, as its help lists them.
    let help = Command::new(env!("CARGO_BIN_EXE_edalab"))
        .args(["serve", "--help"])
        .output()
        .expect("edalab serve --help");
    assert!(help.status.success(), "edalab serve --help failed");
    let help = String::from_utf8(help.stdout).expect("UTF-8 help");
    let accepted: BTreeSet<String> = help
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Possible values"))
        .skip(1)
        .map_while(|l| l.trim_start().strip_prefix("- "))
        .map(|l| l.split(':').next().expect("value").trim().to_owned())
        .collect();
    assert!(
        accepted.contains("ledger") && accepted.contains("gateway"),
        "could not read the services from `serve --help`:\n{help}"
    );
    let mut run = BTreeSet::new();
    for (name, service) in EDALAB_CONTAINERS {
        let command = compose.strings(name, "command");
        assert_eq!(
            command.first().map(String::as_str),
            Some("serve"),
            "{name}: command {command:?}"
        );
        let services: Vec<&String> = command[1..]
            .iter()
            .take_while(|w| !w.starts_with('-'))
            .collect();
        assert_eq!(services, [service], "{name} runs `serve {service}`");
        for s in &services {
            assert!(
                accepted.contains(s.as_str()),
                "{name}: `serve {s}` is not a service of the binary ({accepted:?})"
            );
            run.insert(s.to_string());
        }
        // The binary's own parser reads the whole command line (an unknown option or a bad
        // value is an error even with --help last).
        let output = Command::new(env!("CARGO_BIN_EXE_edalab"))
            .args(&command)
            .arg("--help")
            .output()
            .expect("run edalab");
        assert!(
            output.status.success(),
            "{name}: the binary refuses `{}`: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(run, accepted, "one container per service the binary has");
}

#[test]
fn the_binary_accepts_every_containers_configuration() {
    let compose = Compose::load();
    let dockerfile = Dockerfile::load();
    let names = compose.names();
    let kafka_port = kafka_internal_port(&compose.env("kafka"));
    let postgres = compose.env("postgres");
    for (name, _) in EDALAB_CONTAINERS {
        let config = container_config(&compose, &dockerfile, name);
        let listen = config.server.listen.0;
        assert!(
            listen.ip().is_unspecified(),
            "{name}: listens on {listen}, unreachable from the other containers"
        );
        let health = compose.service(name)["healthcheck"]["test"]
            .as_sequence()
            .expect("healthcheck")
            .iter()
            .map(scalar)
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{name}: healthcheck without a URL"));
        assert_eq!(
            host_port(&health).1,
            listen.port(),
            "{name}: healthcheck port"
        );
        for entry in compose.strings(name, "ports") {
            assert_eq!(
                port(entry.rsplit(':').next().expect("port"), name),
                listen.port(),
                "{name}: publishes {entry:?} but listens on {listen}"
            );
        }
        assert_eq!(config.bus.backend.as_str(), "kafka", "{name}: bus.backend");
        for broker in config.bus.brokers.split(',') {
            assert_eq!(
                host_port(broker),
                ("kafka".to_owned(), kafka_port),
                "{name}: bus.brokers names Kafka's listener for containers"
            );
        }
        assert_eq!(config.store.backend.as_str(), "postgres", "{name}: store");
        let url = &config.store.url;
        assert_eq!(
            host_port(url),
            ("postgres".to_owned(), 5432),
            "{name}: {url}"
        );
        assert!(
            url.ends_with(&format!("/{}", postgres["POSTGRES_DB"]))
                && url.contains(&format!("://{}@", postgres["POSTGRES_USER"])),
            "{name}: store.url {url} is not the database and user compose creates"
        );
        for (key, upstream) in config.gateway.upstreams.configured() {
            let (host, port) = host_port(upstream);
            assert!(
                names.contains(&host),
                "{name}: gateway.upstreams.{key} names `{host}`, not a compose service"
            );
            assert_eq!(
                port,
                edalab_port(&compose, &dockerfile, &host),
                "{name}: gateway.upstreams.{key} port"
            );
        }
    }
    // The gateway forwards both prefixes, to the containers that serve them.
    let gateway = container_config(&compose, &dockerfile, "gateway");
    let forwarded: BTreeMap<&str, String> = gateway
        .gateway
        .upstreams
        .configured()
        .into_iter()
        .map(|(k, url)| (k, host_port(url).0))
        .collect();
    assert_eq!(
        forwarded.get("simulation").map(String::as_str),
        Some("simulator")
    );
    assert!(
        forwarded
            .get("bancaire")
            .is_some_and(|h| h.starts_with("ledger-")),
        "bancaire goes to a ledger: {forwarded:?}"
    );

    // A misspelt key is refused by the same loader (so the checks above mean something).
    let error = Config::load(&ConfigSources {
        file: Some(repo().join("config/docker.yaml")),
        default_file: None,
        env: vec![(
            "EDALAB__GATEWAY__UPSTREAMS__SIMULATON".to_owned(),
            "http://simulator:8080".to_owned(),
        )],
        overrides: Vec::new(),
    })
    .expect_err("an unknown key");
    assert!(error.names_key("gateway.upstreams.simulaton"), "{error}");
}

#[test]
fn prometheus_scrapes_every_edalab_container_where_it_listens() {
    let compose = Compose::load();
    let dockerfile = Dockerfile::load();
    let names = compose.names();
    let config_path = repo().join("deploy/prometheus/prometheus.yml");
    let prometheus = yaml(&config_path);

    // compose mounts this file where Prometheus reads it.
    let mounted = compose
        .mounts("prometheus")
        .into_iter()
        .find(|(host, _)| host.canonicalize().ok() == config_path.canonicalize().ok())
        .map(|(_, container)| container)
        .expect("compose mounts deploy/prometheus/prometheus.yml into prometheus");
    let command = compose.strings("prometheus", "command");
    assert!(
        command.contains(&format!("--config.file={mounted}")),
        "prometheus reads {mounted}: {command:?}"
    );
    // Each rule file is mounted beside the configuration, where its relative path points.
    let rule_files = prometheus["rule_files"].as_sequence().expect("rule_files");
    assert!(!rule_files.is_empty(), "no alert rules loaded");
    let config_dir = Path::new(&mounted)
        .parent()
        .expect("the config's directory");
    for rule_file in rule_files.iter().map(scalar) {
        let host = config_path.with_file_name(&rule_file);
        let container = config_dir.join(&rule_file).display().to_string();
        assert!(
            compose.mounts("prometheus").iter().any(|(h, c)| {
                h.canonicalize().ok() == host.canonicalize().ok() && *c == container
            }),
            "compose mounts {} at {container}",
            host.display()
        );
    }

    let mut scraped = BTreeSet::new();
    let jobs = prometheus["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    assert!(!jobs.is_empty(), "no scrape job");
    for job in jobs {
        let job_name = scalar(&job["job_name"]);
        let mut targets: Vec<(String, u16)> = Vec::new();
        for sd in job["dns_sd_configs"].as_sequence().into_iter().flatten() {
            let port = sd["port"].as_u64().expect("dns_sd_configs port") as u16;
            for host in sd["names"].as_sequence().expect("names") {
                targets.push((scalar(host), port));
            }
        }
        for sc in job["static_configs"].as_sequence().into_iter().flatten() {
            for target in sc["targets"].as_sequence().expect("targets") {
                targets.push(host_port(&scalar(target)));
            }
        }
        assert!(!targets.is_empty(), "job {job_name} has no target");
        for (host, port) in targets {
            assert!(
                names.contains(&host),
                "job {job_name}: `{host}` is not a compose service"
            );
            let listening = if EDALAB_CONTAINERS.iter().any(|(n, _)| *n == host) {
                BTreeSet::from([edalab_port(&compose, &dockerfile, &host)])
            } else {
                compose.container_ports(&host)
            };
            assert!(
                listening.contains(&port),
                "job {job_name}: scrapes {host}:{port}, but it listens on {listening:?}"
            );
            scraped.insert(host);
        }
    }
    for (name, _) in EDALAB_CONTAINERS {
        assert!(scraped.contains(name), "Prometheus does not scrape {name}");
    }
    assert!(
        scraped.contains("kafka-exporter"),
        "broker metrics are scraped"
    );
}

/// Labels Prometheus adds to every series of the edalab job (`relabel_configs`).
fn relabelled_target_labels() -> BTreeSet<String> {
    let prometheus = yaml(&repo().join("deploy/prometheus/prometheus.yml"));
    let mut labels: BTreeSet<String> = TARGET_LABELS.iter().map(|s| s.to_string()).collect();
    for job in prometheus["scrape_configs"].as_sequence().expect("jobs") {
        for relabel in job["relabel_configs"].as_sequence().into_iter().flatten() {
            labels.insert(scalar(&relabel["target_label"]));
        }
    }
    labels
}

/// What a dashboard asks Prometheus: metric names, and per name the label names it
/// filters or groups on.
#[derive(Default, Debug)]
struct Queries {
    metrics: BTreeMap<String, BTreeSet<String>>,
    /// Labels named in `by (...)` / `without (...)` (checked against every metric below).
    grouping: BTreeSet<String>,
}

impl promql_parser::util::ExprVisitor for Queries {
    type Error = String;

    fn pre_visit(&mut self, expr: &promql_parser::parser::Expr) -> Result<bool, String> {
        use promql_parser::parser::{Expr, LabelModifier};
        let selector = match expr {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            Expr::Aggregate(agg) => {
                if let Some(LabelModifier::Include(labels) | LabelModifier::Exclude(labels)) =
                    &agg.modifier
                {
                    self.grouping.extend(labels.labels.iter().cloned());
                }
                None
            }
            _ => None,
        };
        if let Some(vs) = selector {
            let name = vs
                .name
                .clone()
                .ok_or_else(|| format!("a selector without a metric name: {vs}"))?;
            let labels = self.metrics.entry(name).or_default();
            let or_matchers = vs.matchers.or_matchers.iter().flatten();
            for matcher in vs.matchers.matchers.iter().chain(or_matchers) {
                if matcher.name != "__name__" {
                    labels.insert(matcher.name.clone());
                }
            }
        }
        Ok(true)
    }
}

/// Every dashboard's queries, after checking the provisioning around them.
fn dashboard_queries() -> Queries {
    let compose = Compose::load();
    let grafana = repo().join("deploy/grafana");

    // The datasource: Prometheus of the compose file, with the uid the dashboards use.
    let mut uids = BTreeSet::new();
    for entry in std::fs::read_dir(grafana.join("provisioning/datasources")).expect("datasources") {
        let path = entry.expect("entry").path();
        for ds in yaml(&path)["datasources"]
            .as_sequence()
            .expect("datasources")
        {
            assert_eq!(scalar(&ds["type"]), "prometheus", "{}", path.display());
            let (host, port) = host_port(&scalar(&ds["url"]));
            assert!(
                compose.names().contains(&host) && compose.container_ports(&host).contains(&port),
                "{}: {host}:{port} is not a compose service's port",
                path.display()
            );
            uids.insert(scalar(&ds["uid"]));
        }
    }
    assert!(!uids.is_empty(), "no datasource provisioned");

    // The dashboard provider reads where compose mounts deploy/grafana/dashboards.
    let dashboards_dir = grafana.join("dashboards");
    let mounts = compose.mounts("grafana");
    let in_container = mounts
        .iter()
        .find(|(host, _)| host.canonicalize().ok() == dashboards_dir.canonicalize().ok())
        .map(|(_, c)| c.clone())
        .expect("compose mounts deploy/grafana/dashboards into grafana");
    let provisioning = mounts
        .iter()
        .find(|(host, _)| {
            host.canonicalize().ok() == grafana.join("provisioning").canonicalize().ok()
        })
        .map(|(_, c)| c.clone())
        .expect("compose mounts deploy/grafana/provisioning");
    assert_eq!(provisioning, "/etc/grafana/provisioning");
    let mut provider_paths = BTreeSet::new();
    for entry in std::fs::read_dir(grafana.join("provisioning/dashboards")).expect("providers") {
        for p in yaml(&entry.expect("entry").path())["providers"]
            .as_sequence()
            .expect("providers")
        {
            provider_paths.insert(scalar(&p["options"]["path"]));
        }
    }
    assert_eq!(provider_paths, BTreeSet::from([in_container.clone()]));
    let home = compose.env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].clone();
    let home_file = home
        .strip_prefix(&format!("{in_container}/"))
        .expect("the home dashboard is a provisioned one");
    assert!(dashboards_dir.join(home_file).is_file(), "{home}");

    let mut queries = Queries::default();
    let mut dashboard_uids = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dashboards_dir)
        .expect("dashboards")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "Kafka, services and performance dashboards"
    );
    for path in files {
        let doc: serde_json::Value = serde_json::from_str(&read(&path))
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let uid = doc["uid"].as_str().expect("dashboard uid").to_owned();
        assert!(dashboard_uids.insert(uid.clone()), "uid {uid} used twice");
        let mut panels: Vec<&serde_json::Value> = Vec::new();
        let mut stack: Vec<&serde_json::Value> =
            doc["panels"].as_array().expect("panels").iter().collect();
        while let Some(panel) = stack.pop() {
            stack.extend(panel["panels"].as_array().into_iter().flatten());
            panels.push(panel);
        }
        let mut exprs = 0;
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("?");
            for target in panel["targets"].as_array().into_iter().flatten() {
                for ds in [&panel["datasource"], &target["datasource"]] {
                    if let Some(ds_uid) = ds["uid"].as_str() {
                        assert!(
                            uids.contains(ds_uid),
                            "{} / {title}: datasource {ds_uid} is not provisioned",
                            path.display()
                        );
                    }
                }
                let expr = target["expr"].as_str().expect("expr");
                // Grafana's interval variables, as Prometheus would receive them.
                let promql = expr
                    .replace("$__rate_interval", "1m")
                    .replace("$__interval", "15s")
                    .replace("$__range", "15m");
                assert!(
                    !promql.contains('$'),
                    "{} / {title}: an unresolved variable in {expr}",
                    path.display()
                );
                let ast = promql_parser::parser::parse(&promql).unwrap_or_else(|e| {
                    panic!("{} / {title}: not PromQL: {e}\n{expr}", path.display())
                });
                promql_parser::util::walk_expr(&mut queries, &ast)
                    .unwrap_or_else(|e| panic!("{} / {title}: {e}", path.display()));
                exprs += 1;
            }
        }
        assert!(exprs > 0, "{}: no query", path.display());
    }
    queries
}

/// A child process, killed if the test ends before [`Running::stop`].
struct Running(std::process::Child);

impl Running {
    /// SIGTERM, then up to 30 s for a clean exit.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One sample line of the Prometheus text format → (name, label names).
fn sample(line: &str) -> Option<(String, BTreeSet<String>)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = line[..end].to_owned();
    let mut labels = BTreeSet::new();
    if line[end..].starts_with('{') {
        let mut rest = &line[end + 1..];
        loop {
            rest = rest.trim_start_matches(',');
            if rest.starts_with('}') || rest.is_empty() {
                break;
            }
            let (label, after) = rest.split_once("=\"")?;
            labels.insert(label.to_owned());
            // Skip the quoted value, honouring escapes.
            let mut escaped = false;
            let mut close = None;
            for (i, c) in after.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        close = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            rest = &after[close? + 1..];
        }
    }
    Some((name, labels))
}

#[tokio::test]
async fn dashboards_ask_only_for_metrics_the_binary_exports() {
    let queries = dashboard_queries();
    let target_labels = relabelled_target_labels();
    let mut edalab_names = BTreeSet::new();
    for name in queries.metrics.keys() {
        // edalab's own, and the process series it exports (`process_*`, metrics-process).
        if name.starts_with("edalab_") || name.starts_with("process_") {
            edalab_names.insert(name.clone());
        } else {
            assert!(
                KAFKA_EXPORTER_METRICS.contains(&name.as_str())
                    || PROMETHEUS_SYNTHETIC.contains(&name.as_str()),
                "dashboards query `{name}`, which neither edalab, kafka-exporter nor \
                 Prometheus exports"
            );
        }
    }
    assert!(
        edalab_names.len() >= 8,
        "the dashboards show edalab's metrics: {edalab_names:?}"
    );

    // A real `edalab up` with traffic that exercises refusals, poison messages and DLQs.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_edalab"));
    command.current_dir(dir.path());
    for (name, _) in std::env::vars() {
        if name.starts_with("EDALAB") {
            command.env_remove(name);
        }
    }
    let mut child = Running(
        command
            .args(["--data-dir", "data", "up", "--listen", "127.0.0.1:0"])
            .env("EDALAB__LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start edalab up"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let base = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("edalab up prints its URLs");
        if let Some(rest) = line.trim().strip_prefix("API") {
            let url = rest.split_whitespace().next().expect("URL");
            break url.trim_end_matches("/api/v1").to_owned();
        }
    };
    let started = reqwest::Client::new()
        .post(format!("{base}/api/v1/simulation/start"))
        .json(&serde_json::json!({"scenario": "fraud-burst", "rate": 200, "duration": 0}))
        .send()
        .await
        .expect("POST /api/v1/simulation/start");
    assert!(
        started.status().is_success(),
        "simulation start: {}",
        started.text().await.unwrap_or_default()
    );
    // A WebSocket client, so that the hub's gauge has a value.
    let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
    let (_ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("connect /ws");

    let deadline = Instant::now() + Duration::from_secs(60);
    let exported: BTreeMap<String, BTreeSet<String>> = loop {
        let text = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text");
        let mut exported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, labels) in text.lines().filter_map(sample) {
            exported.entry(name).or_default().extend(labels);
        }
        let missing: Vec<&String> = edalab_names
            .iter()
            .filter(|n| !exported.contains_key(*n))
            .collect();
        if missing.is_empty() {
            break exported;
        }
        if Instant::now() > deadline {
            panic!(
                "dashboards query metrics that a running edalab does not export: {missing:?}\n\
                 exported: {:?}",
                exported.keys().collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    child.stop();

    // Labels: each selector's matchers exist on that metric (or are Prometheus' target
    // labels); each `by (...)` label exists on some metric the dashboards query.
    let mut all_labels: BTreeSet<String> = target_labels.clone();
    for (name, used) in &queries.metrics {
        let known: BTreeSet<String> = match exported.get(name) {
            Some(labels) => labels.union(&target_labels).cloned().collect(),
            None => continue, // kafka-exporter / Prometheus: names checked above
        };
        all_labels.extend(known.iter().cloned());
        for label in used {
            assert!(
                known.contains(label),
                "dashboards filter `{name}` on label `{label}`, which it does not have \
                 (it has {known:?})"
            );
        }
    }
    for label in &queries.grouping {
        let kafka_exporter_labels = ["topic", "partition", "consumergroup"];
        assert!(
            all_labels.contains(label) || kafka_exporter_labels.contains(&label.as_str()),
            "dashboards group by `{label}`, which no queried metric has"
        );
    }
}

#[test]
fn the_dockerfile_copies_what_the_build_needs() {
    let dockerfile = Dockerfile::load();
    let root = repo();
    let ignored: Vec<String> = read(&root.join(".dockerignore"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains('*'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    for required in ["target", "data", "web/node_modules"] {
        assert!(
            ignored.iter().any(|i| i == required),
            ".dockerignore keeps {required}/ out of the build context"
        );
    }
    let mut build_sources = Vec::new();
    for (stage, from, sources, dest) in &dockerfile.copies {
        if from.is_some() {
            continue;
        }
        for source in sources {
            let path = root.join(source);
            assert!(
                path.exists(),
                "stage {stage}: COPY {source} {dest}: {} does not exist",
                path.display()
            );
            let relative = source.trim_end_matches('/');
            for ignore in &ignored {
                assert!(
                    !(relative == ignore || relative.starts_with(&format!("{ignore}/"))),
                    "stage {stage}: COPY {source}, but .dockerignore excludes {ignore}"
                );
            }
            if stage == "build" {
                build_sources.push(path.canonicalize().expect("source"));
            }
        }
    }
    assert!(
        !build_sources.is_empty(),
        "a stage named `build` copies the sources"
    );

    // The build stage has every file the compiler reads: the manifests, every crate, and
    // what `include_str!`/`include_bytes!` embed from outside the crates.
    let covered = |path: &Path| build_sources.iter().any(|s| path.starts_with(s));
    for file in ["Cargo.toml", "Cargo.lock"] {
        assert!(covered(&root.join(file)), "the build stage copies {file}");
    }
    let mut rust_files = Vec::new();
    let mut dirs = vec![root.join("crates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                rust_files.push(path);
            }
        }
    }
    let mut embedded = 0;
    for file in rust_files {
        let text = read(&file);
        for macro_name in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(macro_name) {
                let rest = &text[at + macro_name.len()..];
                let literal = &rest[..rest.find('"').expect("closing quote")];
                let path = file.parent().expect("dir").join(literal);
                let Ok(path) = path.canonicalize() else {
                    continue; // a string in a comment or a test fixture that names no file
                };
                assert!(
                    covered(&path),
                    "{} embeds {}, which the Dockerfile's build stage does not copy",
                    file.display(),
                    path.display()
                );
                embedded += 1;
            }
        }
    }
    assert!(
        embedded > 0,
        "found the embedded files (schemas, scenarios)"
    );

    // What the build and runtime stages promise.
    assert!(
        dockerfile.runs.iter().any(|(stage, run)| stage == "build"
            && run.contains("cargo build")
            && run.contains("--release")
            && run.contains("-p edalab")),
        "the build stage builds the edalab binary in release"
    );
    let scripts: serde_json::Value =
        serde_json::from_str(&read(&root.join("web/package.json"))).expect("package.json");
    assert!(
        scripts["scripts"]["build"].is_string(),
        "web has a build script"
    );
    assert!(
        dockerfile
            .runs
            .iter()
            .any(|(_, run)| run.contains("npm ci"))
            && dockerfile
                .runs
                .iter()
                .any(|(_, run)| run.contains("npm run build")),
        "a stage builds the web UI"
    );
    // The UI lands where the gateway looks for it: server.static_dir, relative to WORKDIR.
    // Listening on every interface needs the token compose passes (docs/security.md).
    let config = Config::load(&ConfigSources {
        file: Some(root.join("config/docker.yaml")),
        env: vec![(
            "EDALAB__SECURITY__TOKEN".to_owned(),
            "a-test-token-of-32-characters-00".to_owned(),
        )],
        ..ConfigSources::default()
    })
    .expect("config/docker.yaml");
    let static_dir = Path::new(&dockerfile.workdir).join(&config.server.static_dir);
    assert!(
        dockerfile
            .copies
            .iter()
            .any(|(_, from, sources, dest)| from.as_deref() == Some("web")
                && sources.iter().any(|s| s.ends_with("dist"))
                && Path::new(dest) == static_dir),
        "the runtime stage copies the built UI to {} (WORKDIR + server.static_dir)",
        static_dir.display()
    );
    assert_eq!(
        dockerfile.source_of("/etc/edalab/docker.yaml"),
        root.join("config/docker.yaml")
    );
    assert_eq!(dockerfile.entrypoint, "[\"edalab\"]");
    let user = dockerfile.user.as_deref().unwrap_or("root");
    assert!(
        !["root", "0"].contains(&user),
        "the runtime runs as a non-root user, not {user}"
    );
}

#[test]
fn deploy_ships_with_authentication_on_no_default_password_and_loopback_ports() {
    let compose = Compose::load();
    let dockerfile = Dockerfile::load();
    for (name, _) in EDALAB_CONTAINERS {
        let written = compose.env(name);
        let token = written
            .get("EDALAB__SECURITY__TOKEN")
            .unwrap_or_else(|| panic!("{name}: no EDALAB__SECURITY__TOKEN"));
        assert!(
            token.starts_with("${EDALAB_TOKEN:?"),
            "{name}: the token must be required from EDALAB_TOKEN, with no default: {token:?}"
        );
        let config = container_config(&compose, &dockerfile, name);
        assert!(
            config.security.auth_required(),
            "{name}: authentication off"
        );
        // Without the token the same configuration is refused, naming the setting.
        let env: Vec<(String, String)> = written
            .into_iter()
            .filter(|(k, _)| k.starts_with("EDALAB") && k != "EDALAB__SECURITY__TOKEN")
            .collect();
        let error = Config::load(&ConfigSources {
            file: Some(repo().join("config/docker.yaml")),
            default_file: None,
            env,
            overrides: Vec::new(),
        })
        .expect_err("no token, listening on every interface");
        assert!(error.names_key("security.token"), "{name}: {error}");
    }
    let password = &compose.env("grafana")["GF_SECURITY_ADMIN_PASSWORD"];
    assert!(
        password.starts_with("${GRAFANA_ADMIN_PASSWORD:?") && !password.contains(":-"),
        "Grafana's admin password must be required, without a default: {password:?}"
    );
    for name in compose.names() {
        for entry in compose.strings(&name, "ports") {
            let parts: Vec<&str> = entry.split(':').collect();
            assert_eq!(
                parts.len(),
                3,
                "{name}: {entry:?} does not name the host address it binds"
            );
            assert_eq!(
                parts[0], "127.0.0.1",
                "{name}: {entry:?} is not on loopback"
            );
        }
    }
    let example = read(&repo().join("deploy/.env.example"));
    for (variable, _) in USER_SET {
        assert!(
            example.lines().any(|l| l.trim() == format!("{variable}=")),
            "deploy/.env.example lists {variable}, empty"
        );
    }
}

#[test]
fn the_binary_refuses_to_listen_off_loopback_without_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [
        vec!["--data-dir", "data", "up", "--listen", "0.0.0.0:0"],
        vec!["serve", "gateway", "--config"],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_edalab"));
        command.current_dir(dir.path());
        for (name, _) in std::env::vars() {
            if name.starts_with("EDALAB") {
                command.env_remove(name);
            }
        }
        command.args(&args);
        if args[0] == "serve" {
            command.arg(repo().join("config/docker.yaml"));
        }
        let output = command.stdin(Stdio::null()).output().expect("run edalab");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started without a token");
        assert!(
            stderr.contains("security.token"),
            "{args:?}: the error names the setting: {stderr}"
        );
    }
}
