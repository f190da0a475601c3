//! The schema registry a platform process uses, and the catalog its producers frame with
//! (issue 21, ADR 031): the ids come from the registry, never from the build.
//!
//! - `registry.url` set: that Confluent-compatible registry; every schema is registered
//!   there (and its subject given its published level when it has none).
//! - else, a process that runs the gateway owns the built-in registry of the data directory
//!   and registers the same way;
//! - else (a `serve` without the gateway next to one that owns it), the built-in registry is
//!   opened read-only and each schema looked up.
//!
//! A registry that cannot be reached at start is tried again with a doubling pause for up
//! to `registry.register_timeout_ms`, each failure logged; then the start fails naming the
//! registry. A refusal (an incompatible schema, 409) fails at once, naming the subject.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use edalab_schema::registry::{Registration, RegistrationError, register_catalog};
use edalab_schema::{SchemaCatalog, SchemaRegistry};
use tokio::time::Instant;

use crate::config::Config;

/// The first pause between two registration attempts; it doubles up to [`PAUSE_MAX`].
const PAUSE_FIRST: Duration = Duration::from_millis(250);
const PAUSE_MAX: Duration = Duration::from_secs(5);

/// The registry of a platform process and the catalog registered on it.
pub struct Schemas {
    pub registry: Arc<dyn SchemaRegistry>,
    pub catalog: Arc<SchemaCatalog>,
    /// Where the registry is, for the banner and the logs.
    pub location: String,
}

/// Opens the registry `config` names (the built-in one read-write when `owns_builtin`) and
/// registers the catalog on it.
pub async fn open(config: &Config, owns_builtin: bool) -> anyhow::Result<Schemas> {
    let url = config.registry.url.trim();
    let (registry, mode, location) = if !url.is_empty() {
        let registry = edalab_gateway::registry::open(&config.registry, &config.bus.data_dir)
            .context("opening the schema registry (registry.url)")?;
        (
            registry,
            Registration::Register,
            format!("registry.url {url}"),
        )
    } else if owns_builtin {
        let registry = edalab_gateway::registry::open(&config.registry, &config.bus.data_dir)
            .context("opening the built-in schema registry")?;
        (registry, Registration::Register, "built-in".to_owned())
    } else {
        let registry = crate::profile::open_registry_reader(config)?;
        (
            registry,
            Registration::Lookup,
            "built-in, read-only".to_owned(),
        )
    };
    let builtin = SchemaCatalog::builtin().context("loading the schema catalog")?;
    let timeout = Duration::from_millis(config.registry.register_timeout_ms);
    let catalog = register_with_retries(&*registry, &builtin, mode, timeout)
        .await
        .with_context(|| {
            format!("registering edalab's schemas on the schema registry ({location})")
        })?;
    Ok(Schemas {
        registry,
        catalog: Arc::new(catalog),
        location,
    })
}

/// [`register_catalog`], tried again after a transient failure until `timeout` has passed.
pub async fn register_with_retries(
    registry: &dyn SchemaRegistry,
    builtin: &SchemaCatalog,
    mode: Registration,
    timeout: Duration,
) -> Result<SchemaCatalog, RegistrationError> {
    let deadline = Instant::now() + timeout;
    let mut pause = PAUSE_FIRST;
    let mut attempt = 1_u32;
    loop {
        match register_catalog(registry, builtin, mode).await {
            Ok((catalog, registered)) => {
                for r in registered.iter().filter(|r| r.level_set.is_some()) {
                    tracing::info!(subject = %r.schema.subject(), level = ?r.level_set, "published compatibility level set");
                }
                tracing::info!(attempt, schemas = registered.len(), "schemas registered");
                return Ok(catalog);
            }
            Err(error) if error.is_transient() && Instant::now() + pause < deadline => {
                tracing::warn!(attempt, %error, retry_in_ms = pause.as_millis() as u64, "schema registry not answering; registering again after a pause");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PAUSE_MAX);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The catalog a command that reads records (`edalab check`) decodes `values` with: the
/// ids of the configured registry (looked up, nothing registered), plus the writer schemas
/// of the other ids in `values`, learned from it.
pub async fn reading_catalog<'a>(
    config: &Config,
    values: impl IntoIterator<Item = &'a [u8]>,
) -> anyhow::Result<SchemaCatalog> {
    let registry = crate::profile::open_registry_reader(config)?;
    let builtin = SchemaCatalog::builtin().context("loading the schema catalog")?;
    let (catalog, _) = register_catalog(&*registry, &builtin, Registration::Lookup)
        .await
        .context("looking edalab's schemas up in the schema registry")?;
    edalab_schema::registry::learn_writers(&catalog, &*registry, values)
        .await
        .context("fetching writer schemas from the schema registry")?;
    Ok(catalog)
}
