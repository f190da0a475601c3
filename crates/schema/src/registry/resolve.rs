//! Between the catalog and a registry (issue 21, ADR 031): producers frame with the ids the
//! registry gives ([`register_catalog`]), consumers learn the writer schemas of ids they
//! meet in records ([`learn_writers`]). The catalog stays free of I/O; these two functions
//! are the only places it meets a registry.

use crate::catalog::{SchemaCatalog, SchemaId};
use crate::embedded::EventSchema;
use crate::error::WireError;
use crate::registry::{Compatibility, RegistryError, SchemaRegistry, parse_schema};
use crate::wire;

/// How [`register_catalog`] gets its ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// Registers each schema (idempotent: an existing version keeps its id) after setting
    /// the subject's published level on a subject without a level of its own.
    Register,
    /// Only looks each schema up (a registry this process may not write, e.g. the built-in
    /// one of a data directory another process owns).
    Lookup,
}

/// Why the catalog could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The registry refused or failed a call about `subject`.
    #[error("{subject}: {source}")]
    Registry {
        subject: String,
        #[source]
        source: RegistryError,
    },
    /// The registry gave two schemas the same id.
    #[error("the registry's ids do not fit the catalog: {0}")]
    Catalog(#[from] WireError),
}

impl RegistrationError {
    /// Whether trying again may succeed: the registry was unreachable or failed
    /// internally, as opposed to refusing a schema or a level.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Registry { source, .. } => is_transient(source),
            Self::Catalog(_) => false,
        }
    }
}

/// Whether `error` says the registry could not answer now (unreachable, timed out, its
/// store or server failing), rather than refusing the request.
pub fn is_transient(error: &RegistryError) -> bool {
    match error {
        RegistryError::Transport { .. } | RegistryError::Store(_) => true,
        RegistryError::Remote { status, .. } => *status >= 500,
        _ => false,
    }
}

/// One schema of [`register_catalog`]'s result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub schema: EventSchema,
    pub id: SchemaId,
    /// The published level this call set on the subject, if it set one.
    pub level_set: Option<Compatibility>,
}

/// Registers (or looks up) every schema of `catalog` on `registry` under its subject and
/// returns the catalog framing with the registry's ids, with what was done per schema.
pub async fn register_catalog(
    registry: &dyn SchemaRegistry,
    catalog: &SchemaCatalog,
    mode: Registration,
) -> Result<(SchemaCatalog, Vec<Registered>), RegistrationError> {
    let mut registered = Vec::with_capacity(EventSchema::ALL.len());
    for schema in EventSchema::ALL {
        let subject = schema.subject();
        let at = |source| RegistrationError::Registry {
            subject: subject.clone(),
            source,
        };
        let (id, level_set) = match mode {
            Registration::Register => {
                let level_set = publish_level(registry, schema).await.map_err(at)?;
                let id = registry.register(&subject, schema.source()).await;
                (id.map_err(at)?, level_set)
            }
            Registration::Lookup => {
                let found = registry.lookup(&subject, schema.source()).await;
                (found.map_err(at)?.schema_id(), None)
            }
        };
        registered.push(Registered {
            schema,
            id,
            level_set,
        });
    }
    let framed = catalog.with_ids(registered.iter().map(|r| (r.schema, r.id)))?;
    Ok((framed, registered))
}

/// Sets `schema`'s published level on its subject when the subject has none of its own;
/// returns the level set.
async fn publish_level(
    registry: &dyn SchemaRegistry,
    schema: EventSchema,
) -> Result<Option<Compatibility>, RegistryError> {
    let Some(text) = schema.published_compatibility() else {
        return Ok(None);
    };
    let level: Compatibility = text.parse()?;
    let subject = schema.subject();
    match registry.compatibility(Some(&subject)).await {
        Ok(_) => Ok(None),
        Err(RegistryError::SubjectCompatibilityNotConfigured(_)) => {
            registry.set_compatibility(Some(&subject), level).await?;
            Ok(Some(level))
        }
        Err(other) => Err(other),
    }
}

/// Makes every schema id framing one of `values` known to `catalog`: an id it neither
/// frames with nor learned before is fetched from `registry` and learned (readable, or
/// unreadable with the reason). Ids the registry does not hold stay unknown, and values
/// that are not Confluent-framed are skipped: decoding them fails with the reason. Fails
/// only when the registry cannot answer (the caller retries later); returns the ids learned.
pub async fn learn_writers<'a>(
    catalog: &SchemaCatalog,
    registry: &dyn SchemaRegistry,
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<SchemaId>, RegistryError> {
    let mut learned = Vec::new();
    for value in values {
        let Ok((id, _)) = wire::unframe(value) else {
            continue;
        };
        if catalog.knows(id) {
            continue;
        }
        match registry.schema_by_id(id).await {
            Ok(text) => {
                match parse_schema(&text) {
                    Ok(writer) => {
                        // An unreadable schema is remembered with its reason; decoding
                        // then reports it.
                        let _ = catalog.learn(id, writer);
                    }
                    Err(error) => catalog.refuse(id, &error.to_string()),
                }
                learned.push(id);
            }
            Err(RegistryError::SchemaNotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(learned)
}
