//! The X-08 build gate: every schema under `schemas/` must stay compatible with the versions
//! of its subject published under `schemas/published/<subject>/` (`v1.avsc`, `v2.avsc`…),
//! under the subject's level (`compatibility` in that folder, `BACKWARD` by default) — the
//! check a Confluent registry makes at registration, made before anything is released.

use std::path::{Path, PathBuf};

use apache_avro::Schema;
use edalab_schema::EventSchema;
use edalab_schema::registry::compat::{self, Compatibility};
use serde_json::{Value, json};

fn published_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/published")
}

/// The published versions in `dir`, ascending: `(N, text of vN.avsc)`.
fn published_versions(dir: &Path) -> Result<Vec<(u32, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut versions = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(number) = name.strip_prefix('v').and_then(|n| n.strip_suffix(".avsc")) else {
            continue;
        };
        let number: u32 = number
            .parse()
            .map_err(|_| format!("{}: not a version file name (vN.avsc)", path.display()))?;
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        versions.push((number, text));
    }
    versions.sort_by_key(|(n, _)| *n);
    Ok(versions)
}

/// The subject's level: the `compatibility` file of `dir`, `BACKWARD` when absent.
fn level(dir: &Path) -> Result<Compatibility, String> {
    match std::fs::read_to_string(dir.join("compatibility")) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e| format!("{}/compatibility: {e}", dir.display())),
        Err(_) => Ok(Compatibility::default()),
    }
}

/// The gate for one subject: `current` against the versions published in `dir`. The error
/// names the subject, the level and each incompatibility (version, direction, field).
fn gate(subject: &str, dir: &Path, current: &str) -> Result<(), String> {
    let published = published_versions(dir)?;
    if published.is_empty() {
        return Err(format!(
            "{subject}: no published version in {} (copy the released schema there as v1.avsc)",
            dir.display()
        ));
    }
    let level = level(dir)?;
    let parse = |what: &str, text: &str| {
        Schema::parse_str(text).map_err(|e| format!("{subject}: {what} is not Avro: {e}"))
    };
    let current = parse("the current schema", current)?;
    let schemas = published
        .iter()
        .map(|(n, text)| parse(&format!("v{n}"), text).map(|s| (*n, s)))
        .collect::<Result<Vec<_>, _>>()?;
    let previous: Vec<(u32, &Schema)> = schemas.iter().map(|(n, s)| (*n, s)).collect();
    compat::check(level, &current, &previous).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!(
            "{subject} is not {level} compatible with its published versions: {}",
            listed.join("; ")
        )
    })
}

#[test]
fn every_schema_is_compatible_with_its_published_versions() {
    let root = published_root();
    let failures: Vec<String> = EventSchema::ALL
        .into_iter()
        .filter_map(|schema| {
            let subject = schema.subject();
            gate(&subject, &root.join(&subject), schema.source()).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_published_subject_is_a_schema_of_the_platform() {
    let subjects: Vec<String> = EventSchema::ALL.iter().map(|s| s.subject()).collect();
    for entry in std::fs::read_dir(published_root()).expect("schemas/published") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            subjects.iter().any(|s| s == name),
            "schemas/published/{name} names no subject of the platform ({subjects:?})"
        );
    }
}

/// The level the platform sets on a subject at start is the published one (the binary
/// embeds the `compatibility` files; a new one must be added to
/// `EventSchema::published_compatibility`).
#[test]
fn the_embedded_levels_are_the_published_ones() {
    for schema in EventSchema::ALL {
        let dir = published_root().join(schema.subject());
        let file = std::fs::read_to_string(dir.join("compatibility")).ok();
        assert_eq!(
            schema.published_compatibility(),
            file.as_deref().map(str::trim),
            "{}",
            schema.subject()
        );
        if let Some(text) = schema.published_compatibility() {
            assert_eq!(text.parse::<Compatibility>().ok(), level(&dir).ok());
        }
    }
}

/// A copy of `schema`'s published folder in a temporary directory, at `level`.
fn published_copy(schema: EventSchema, level: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = published_root().join(schema.subject());
    for (n, text) in published_versions(&from).expect("published") {
        std::fs::write(dir.path().join(format!("v{n}.avsc")), text).expect("write");
    }
    std::fs::write(dir.path().join("compatibility"), level).expect("write");
    dir
}

fn edited(schema: EventSchema, edit: impl FnOnce(&mut Vec<Value>)) -> String {
    let mut value: Value = serde_json::from_str(schema.source()).expect("JSON");
    edit(value["fields"].as_array_mut().expect("fields"));
    value.to_string()
}

#[test]
fn a_breaking_change_fails_the_gate_naming_the_field() {
    let schema = EventSchema::AccountOpened;
    let subject = schema.subject();
    let dir = published_copy(schema, "BACKWARD_TRANSITIVE");
    // A new field without a default: the new schema cannot read what v1 wrote.
    let added = edited(schema, |fields| {
        fields.push(json!({"name": "agence", "type": "string"}));
    });
    let error = gate(&subject, dir.path(), &added).expect_err("a breaking change passed");
    assert!(
        error.contains(&subject) && error.contains("agence"),
        "{error}"
    );
    assert!(error.contains("BACKWARD"), "{error}");
    // The same field with a default is compatible.
    let defaulted = edited(schema, |fields| {
        fields.push(json!({"name": "agence", "type": "string", "default": ""}));
    });
    gate(&subject, dir.path(), &defaulted).expect("a compatible change was refused");
}

#[test]
fn a_type_change_fails_and_a_level_of_none_lets_it_through() {
    let schema = EventSchema::DepositMade;
    let subject = schema.subject();
    let retyped = edited(schema, |fields| {
        let field = fields
            .iter_mut()
            .find(|f| f["type"] == "string")
            .expect("a string field");
        field["type"] = json!("int");
    });
    let strict = published_copy(schema, "FULL");
    let error = gate(&subject, strict.path(), &retyped).expect_err("a type change passed");
    assert!(error.contains("FULL"), "{error}");
    let none = published_copy(schema, "NONE");
    gate(&subject, none.path(), &retyped).expect("NONE checks nothing");
}
