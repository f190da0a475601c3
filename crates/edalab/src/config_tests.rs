//! Configuration layering and errors that name the key (S3-03), through [`Config::load`].

use std::path::PathBuf;

use edalab_gateway::config::{LogFormat, LogLevel};

use edalab_gateway::security::TokenHash;

use super::{BusBackend, Config, ConfigError, ConfigSources};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(file: Option<PathBuf>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&ConfigSources {
        file,
        default_file: None,
        env: env(vars),
        overrides: Vec::new(),
    })
}

#[test]
fn defaults_are_the_embedded_profile_on_8080() {
    let config = load(None, &[]).expect("defaults load");
    assert_eq!(config, Config::default());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.bus.backend, BusBackend::Embedded);
    assert_eq!(config.server.cors_origins, vec!["http://localhost:5173"]);
}

#[test]
fn layers_apply_in_order_defaults_file_env_overrides() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(
        &dir,
        "c.yaml",
        "server:\n  listen: \"127.0.0.1:9000\"\n  request_timeout_ms: 1234\nlog:\n  level: debug\n  format: text\n",
    );
    let config = load(
        Some(file.clone()),
        &[
            ("EDALAB__SERVER__LISTEN", "127.0.0.1:9100"),
            ("EDALAB__WS__CLIENT_BUFFER_MESSAGES_MAX", "7"),
            ("EDALAB__WS__POLL_RECORDS_MAX", "5"),
            (
                "EDALAB__SERVER__CORS_ORIGINS",
                "[http://a.example, http://b.example]",
            ),
            ("OTHER_VAR", "ignored"),
        ],
    )
    .expect("loads");
    // file over defaults
    assert_eq!(config.server.request_timeout_ms, 1234);
    assert_eq!(config.log.level, LogLevel::Debug);
    assert_eq!(config.log.format, LogFormat::Text);
    // env over file
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(config.ws.client_buffer_messages_max, 7);
    assert_eq!(
        config.server.cors_origins,
        vec!["http://a.example", "http://b.example"]
    );
    // untouched keys keep their defaults
    assert_eq!(config.bus, Config::default().bus);

    // command-line overrides over env
    let config = Config::load(
        &ConfigSources {
            file: Some(file),
            default_file: None,
            env: env(&[("EDALAB__SERVER__LISTEN", "127.0.0.1:9100")]),
            overrides: Vec::new(),
        }
        .set("server.listen", "127.0.0.1:9200")
        .set("bus.data_dir", "/tmp/elsewhere"),
    )
    .expect("loads");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:9200");
    assert_eq!(config.bus.data_dir, PathBuf::from("/tmp/elsewhere"));
}

#[test]
fn a_bad_listen_address_names_the_key() {
    let error = load(None, &[("EDALAB__SERVER__LISTEN", "abc")]).expect_err("refused");
    let text = error.to_string();
    assert!(error.names_key("server.listen"), "{text}");
    assert!(
        text.contains(r#"server.listen: invalid socket address "abc""#),
        "{text}"
    );
    assert!(
        text.contains("EDALAB__SERVER__LISTEN"),
        "says where it came from: {text}"
    );
}

#[test]
fn an_unknown_key_in_a_file_names_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(&dir, "c.yaml", "server:\n  listn: \"127.0.0.1:9000\"\n");
    let error = load(Some(file), &[]).expect_err("refused");
    let text = error.to_string();
    assert!(error.names_key("server.listn"), "{text}");
    assert!(text.contains("unknown key"), "{text}");
    assert!(text.contains("c.yaml"), "names the file: {text}");
}

#[test]
fn an_unknown_section_and_an_unknown_env_key_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(&dir, "c.yaml", "servr:\n  listen: \"127.0.0.1:9000\"\n");
    let error = load(Some(file), &[]).expect_err("refused");
    assert!(error.names_key("servr"), "{error}");

    let error = load(None, &[("EDALAB__BUS__BACKEND_TYPE", "kafka")]).expect_err("refused");
    assert!(error.names_key("bus.backend_type"), "{error}");
}

#[test]
fn a_bad_enum_value_names_the_key_and_the_choices() {
    let error = load(None, &[("EDALAB__BUS__BACKEND", "rabbit")]).expect_err("refused");
    let text = error.to_string();
    assert!(error.names_key("bus.backend"), "{text}");
    assert!(
        text.contains("embedded") && text.contains("kafka"),
        "{text}"
    );

    let error = load(None, &[("EDALAB__LOG__LEVEL", "loud")]).expect_err("refused");
    assert!(error.names_key("log.level"), "{error}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let error = load(None, &[("EDALAB__SERVER__BODY_LIMIT_BYTES", "lots")]).expect_err("refused");
    assert!(error.names_key("server.body_limit_bytes"), "{error}");
}

#[test]
fn validation_reports_every_problem_at_once() {
    let error = load(
        None,
        &[
            ("EDALAB__SERVER__REQUEST_TIMEOUT_MS", "0"),
            ("EDALAB__SERVER__CORS_ORIGINS", "[localhost:5173]"),
            ("EDALAB__WS__CLIENT_BUFFER_MESSAGES_MAX", "0"),
            ("EDALAB__STORE__BACKEND", "postgres"),
        ],
    )
    .expect_err("refused");
    for key in [
        "server.request_timeout_ms",
        "server.cors_origins",
        "ws.client_buffer_messages_max",
        "store.url",
    ] {
        assert!(error.names_key(key), "{key} missing from: {error}");
    }
}

#[test]
fn the_aws_keys_are_checked_together() {
    let error = load(
        None,
        &[
            ("EDALAB__AWS__INTAKE", "s3"),
            ("EDALAB__AWS__BUCKET", "Orders_Bucket"),
            ("EDALAB__AWS__METRICS_NAMESPACE", ":edalab"),
        ],
    )
    .expect_err("refused");
    for key in ["aws.intake", "aws.bucket", "aws.metrics_namespace"] {
        assert!(error.names_key(key), "{key} missing from: {error}");
    }
    let config = load(
        None,
        &[
            ("EDALAB__AWS__INTAKE", "s3"),
            ("EDALAB__AWS__QUEUES", "sqs"),
        ],
    )
    .expect("s3 intake over SQS");
    assert_eq!(config.aws.bucket, "tp-orders");
}

#[test]
fn a_missing_explicit_file_is_an_error_but_a_missing_default_is_not() {
    let dir = tempfile::tempdir().expect("dir");
    let error = load(Some(dir.path().join("nope.yaml")), &[]).expect_err("refused");
    assert!(error.to_string().contains("nope.yaml"), "{error}");

    let config = Config::load(&ConfigSources {
        default_file: Some(dir.path().join("absent.yaml")),
        ..ConfigSources::default()
    })
    .expect("defaults");
    assert_eq!(config, Config::default());
}

#[test]
fn a_yaml_syntax_error_names_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = write(&dir, "broken.yaml", "server: [unclosed\n");
    let error = load(Some(file), &[]).expect_err("refused");
    assert!(error.to_string().contains("broken.yaml"), "{error}");
}

#[test]
fn the_shipped_files_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    // docker.yaml listens on 0.0.0.0: it needs the token compose passes (ADR 018).
    let error = load(Some(root.join("docker.yaml")), &[]).expect_err("no token off loopback");
    assert!(error.names_key("security.token"), "{error}");
    let token = [("EDALAB__SECURITY__TOKEN", "compose-passes-this-0123456789")];
    for name in ["local.yaml", "docker.yaml"] {
        let config = load(Some(root.join(name)), &token)
            .unwrap_or_else(|e| panic!("config/{name} does not load: {e}"));
        if name == "docker.yaml" {
            assert_eq!(config.bus.backend, BusBackend::Kafka);
            assert_eq!(config.server.listen.to_string(), "0.0.0.0:8080");
        } else {
            assert_eq!(config.bus.backend, BusBackend::Embedded);
        }
    }
}

/// A token of the required length (tests only).
const TOKEN: &str = "test-token-0123456789abcdef";

#[test]
fn a_non_loopback_listen_without_a_token_refuses_to_start() {
    let load = |pairs: &[(&str, &str)]| load(None, pairs);
    let error = load(&[("EDALAB__SERVER__LISTEN", "0.0.0.0:8080")]).expect_err("refused");
    assert!(error.names_key("security.token"), "{error}");
    assert!(error.to_string().contains("0.0.0.0:8080"), "{error}");
    let config = load(&[
        ("EDALAB__SERVER__LISTEN", "0.0.0.0:8080"),
        ("EDALAB__SECURITY__TOKEN", TOKEN),
    ])
    .expect("a token makes it valid");
    assert_eq!(config.security.token, Some(TokenHash::of(TOKEN)));
    // The plain token is never written back out.
    let written = serde_json::to_string(&config).expect("serialize");
    assert!(!written.contains(TOKEN), "{written}");
    let error = load(&[("EDALAB__SECURITY__TOKEN", "short")]).expect_err("too short");
    assert!(error.names_key("security.token"), "{error}");
    let error = load(&[("EDALAB__SECURITY__TOKENS", "[plain-not-a-hash]")]).expect_err("no hash");
    assert!(error.to_string().contains("security.tokens"), "{error}");
}
