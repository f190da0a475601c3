//! `edalab schemas list | register | check | diff` (X-08, issue 21): the platform's Avro
//! schemas (`schemas/`, embedded in the binary) against the configured schema registry —
//! `--registry-url`, else `registry.url`, else the built-in registry of the data directory
//! (read-only: a running platform owns it).
//!
//! - `list`: every subject with its versions, latest id and level;
//! - `register`: registers each of the platform's schemas under its subject (TopicNameStrategy,
//!   `<topic>-value`) and prints the id the registry answers; a refusal names the subject and
//!   the incompatibility (409);
//! - `check`: whether each schema could be registered, under its subject's level, against the
//!   versions that level compares with; each incompatibility names the subject, the version,
//!   the direction and the field; exits non-zero when any is found;
//! - `diff`: the fields of each schema that differ from its subject's latest version.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use edalab_schema::registry::compat::{self, Compatibility};
use edalab_schema::registry::parse_schema;
use edalab_schema::{EventSchema, RegistryError, SchemaRegistry, Version};
use serde_json::Value;

use crate::config::Config;

#[derive(Args, Debug)]
pub struct SchemasArgs {
    #[command(subcommand)]
    pub command: SchemasCommand,
    /// A Confluent-compatible registry (a running edalab's is `http://HOST:PORT/registry`)
    /// [default: `registry.url`, else the data directory's built-in registry, read-only].
    #[arg(long, global = true, value_name = "URL")]
    pub registry_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SchemasCommand {
    /// Every subject: versions, latest id, compatibility level.
    List,
    /// Registers the platform's schemas under their subjects; prints each id.
    Register,
    /// Whether each of the platform's schemas could be registered; names every
    /// incompatibility (subject, version, field); exits 1 when there is one.
    Check,
    /// Fields of the platform's schemas that differ from their subject's latest version.
    Diff {
        /// Subjects to compare (`bancaire.compte.ouvert-value`) [default: every one].
        subjects: Vec<String>,
    },
}

pub async fn run(config: &Config, args: SchemasArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    run_to(config, args, &mut out).await
}

pub async fn run_to(config: &Config, args: SchemasArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let registry = open(config, args.registry_url.as_deref())?;
    let registry = &*registry;
    match args.command {
        SchemasCommand::List => list(registry, out).await,
        SchemasCommand::Register => register(registry, out).await,
        SchemasCommand::Check => check(registry, out).await,
        SchemasCommand::Diff { subjects } => diff(registry, &subjects, out).await,
    }
}

/// `--registry-url`, else the configuration's registry (a URL, or the built-in one of the
/// data directory opened read-only).
fn open(config: &Config, url: Option<&str>) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    let Some(url) = url else {
        return crate::profile::open_registry_reader(config);
    };
    edalab_gateway::config::check_registry_url(url)
        .map_err(|e| anyhow::anyhow!("--registry-url {url:?}: {e}"))?;
    let mut settings = config.registry.clone();
    settings.url = url.trim().to_owned();
    edalab_gateway::registry::open(&settings, &config.bus.data_dir)
        .with_context(|| format!("--registry-url {url}"))
}

async fn list(registry: &dyn SchemaRegistry, out: &mut dyn Write) -> anyhow::Result<()> {
    let global = registry.compatibility(None).await?;
    writeln!(out, "global level {global}")?;
    for subject in registry.subjects().await? {
        let versions = registry.versions(&subject).await?;
        let latest = registry.version(&subject, Version::Latest).await?;
        let (level, own) = level_of(registry, &subject).await?;
        let level = if own {
            level.to_string()
        } else {
            format!("{level} (global)")
        };
        let versions: Vec<String> = versions.iter().map(u32::to_string).collect();
        writeln!(
            out,
            "{subject}  versions {}  latest id {}  level {level}",
            versions.join(","),
            latest.id
        )?;
    }
    Ok(())
}

/// The subject's level and whether it is its own (else the global one).
async fn level_of(
    registry: &dyn SchemaRegistry,
    subject: &str,
) -> Result<(Compatibility, bool), RegistryError> {
    match registry.compatibility(Some(subject)).await {
        Ok(level) => Ok((level, true)),
        Err(RegistryError::SubjectCompatibilityNotConfigured(_)) => {
            Ok((registry.compatibility(None).await?, false))
        }
        Err(e) => Err(e),
    }
}

async fn register(registry: &dyn SchemaRegistry, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut refused = Vec::new();
    for schema in EventSchema::ALL {
        let subject = schema.subject();
        match registry.register(&subject, schema.source()).await {
            Ok(id) => writeln!(out, "{subject}  id {id}")?,
            Err(RegistryError::Store(reason)) if reason.contains("read-only") => {
                anyhow::bail!(
                    "the built-in registry of the data directory is read-only here (the \
                     platform owns it, and holds the platform's schemas already): pass \
                     --registry-url http://HOST:PORT/registry to register on a running one"
                )
            }
            Err(e) => {
                writeln!(out, "{subject}  REFUSED: {e}")?;
                refused.push(subject);
            }
        }
    }
    anyhow::ensure!(
        refused.is_empty(),
        "{} of {} schemas refused: {}",
        refused.len(),
        EventSchema::ALL.len(),
        refused.join(", ")
    );
    Ok(())
}

async fn check(registry: &dyn SchemaRegistry, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut failing = Vec::new();
    for schema in EventSchema::ALL {
        let subject = schema.subject();
        match check_one(registry, schema).await? {
            None => writeln!(out, "{subject}  compatible")?,
            Some(problems) => {
                for problem in &problems {
                    writeln!(out, "{subject}  INCOMPATIBLE  {problem}")?;
                }
                failing.push(subject);
            }
        }
    }
    anyhow::ensure!(
        failing.is_empty(),
        "{} of {} schemas are not compatible with the registry: {}",
        failing.len(),
        EventSchema::ALL.len(),
        failing.join(", ")
    );
    Ok(())
}

/// The incompatibilities of `schema` with its subject's versions under the subject's level
/// (`None` when compatible, or when the subject is new).
async fn check_one(
    registry: &dyn SchemaRegistry,
    schema: EventSchema,
) -> anyhow::Result<Option<Vec<String>>> {
    let subject = schema.subject();
    let versions = match registry.versions(&subject).await {
        Ok(versions) => versions,
        Err(RegistryError::SubjectNotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (level, _) = level_of(registry, &subject).await?;
    let current = parse_schema(schema.source())?;
    let mut previous = Vec::with_capacity(versions.len());
    for version in versions {
        let registered = registry.version(&subject, Version::Number(version)).await?;
        previous.push((version, parse_schema(&registered.schema)?));
    }
    let previous: Vec<(u32, &_)> = previous.iter().map(|(n, s)| (*n, s)).collect();
    Ok(compat::check(level, &current, &previous)
        .err()
        .map(|problems| problems.iter().map(|p| format!("{level}: {p}")).collect()))
}

async fn diff(
    registry: &dyn SchemaRegistry,
    subjects: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for subject in subjects {
        anyhow::ensure!(
            EventSchema::for_subject(subject).is_some(),
            "`{subject}` is not a subject of the platform's schemas (one of {})",
            EventSchema::ALL.map(EventSchema::subject).join(", ")
        );
    }
    for schema in EventSchema::ALL {
        let subject = schema.subject();
        if !subjects.is_empty() && !subjects.contains(&subject) {
            continue;
        }
        let latest = match registry.version(&subject, Version::Latest).await {
            Ok(latest) => latest,
            Err(RegistryError::SubjectNotFound(_)) => {
                writeln!(out, "{subject}: not in the registry")?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let changes = field_changes(&latest.schema, schema.source())?;
        if changes.is_empty() {
            writeln!(out, "{subject}: same fields as version {}", latest.version)?;
        } else {
            writeln!(out, "{subject}: against version {}", latest.version)?;
            for change in changes {
                writeln!(out, "  {change}")?;
            }
        }
    }
    Ok(())
}

/// `+ name: type` (only in `ours`), `~ name: a -> b` (type or default changed), by name;
/// then `- name: type` (only in `theirs`), by name.
fn field_changes(theirs: &str, ours: &str) -> anyhow::Result<Vec<String>> {
    let fields = |text: &str| -> anyhow::Result<BTreeMap<String, Value>> {
        let value: Value = serde_json::from_str(text).context("a schema that is not JSON")?;
        Ok(value["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f.clone())))
                    .collect()
            })
            .unwrap_or_default())
    };
    let (theirs, ours) = (fields(theirs)?, fields(ours)?);
    let shown = |field: &Value| {
        let mut text = field["type"].to_string();
        if let Some(default) = field.get("default") {
            text.push_str(&format!(" = {default}"));
        }
        text
    };
    let mut changes = Vec::new();
    for (name, field) in &ours {
        match theirs.get(name) {
            None => changes.push(format!("+ {name}: {}", shown(field))),
            Some(old) if shown(old) != shown(field) => {
                changes.push(format!("~ {name}: {} -> {}", shown(old), shown(field)));
            }
            Some(_) => {}
        }
    }
    for (name, field) in &theirs {
        if !ours.contains_key(name) {
            changes.push(format!("- {name}: {}", shown(field)));
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_changes_name_added_removed_and_retyped_fields() {
        let theirs = r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":"string"},{"name":"b","type":"int"},{"name":"c","type":"long"}]}"#;
        let ours = r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":"string"},{"name":"b","type":"long"},
            {"name":"d","type":"string","default":""}]}"#;
        let changes = field_changes(theirs, ours).unwrap();
        assert_eq!(
            changes,
            vec![
                r#"~ b: "int" -> "long""#.to_owned(),
                r#"+ d: "string" = """#.to_owned(),
                r#"- c: "long""#.to_owned(),
            ]
        );
        assert!(field_changes(theirs, theirs).unwrap().is_empty());
    }
}
