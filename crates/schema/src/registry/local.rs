//! [`LocalRegistry`]: the built-in schema registry (`embedded` profile).
//!
//! It starts with every [`EventSchema`] as version 1 of `<topic>-value` under its built-in
//! id (what [`SchemaCatalog::builtin`](crate::SchemaCatalog::builtin) frames with), so
//! nothing needs registering before the first event. What is registered afterwards, and
//! every compatibility level set, is appended as one JSON line to `schemas.jsonl` in its
//! directory and fsynced before the call returns; opening the directory again replays the
//! file (ADR 016). The built-in schemas themselves are never written: they come with the
//! binary.
//!
//! One process owns a directory: two processes appending to the same file would hand out
//! the same ids.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use apache_avro::Schema;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::compat::{self, Compatibility};
use super::{RegisteredSchema, RegistryError, SchemaRegistry, Version, identity, parse_schema};
use crate::catalog::SchemaId;
use crate::embedded::EventSchema;

/// The log file in the registry's directory.
pub const LOG_FILE: &str = "schemas.jsonl";

/// Ids below this are the built-in catalog's (today 1..=12, append-only); registered
/// schemas are numbered from here, so that a later build's new built-in schema never
/// collides with an id handed out at run time.
pub const REGISTERED_ID_MIN: u32 = 1_000;

/// Subject names longer than this, in characters, are refused (42208), as are empty ones
/// and those holding a control character (the registry API documents the same rule).
pub const SUBJECT_CHARS_MAX: usize = 255;

/// One line of the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    /// A new version of a subject.
    Schema {
        subject: String,
        version: u32,
        id: u32,
        schema: String,
    },
    /// A compatibility level set, globally (`subject: null`) or on a subject.
    Config {
        subject: Option<String>,
        compatibility: Compatibility,
    },
}

struct Stored {
    text: String,
    parsed: Schema,
    identity: String,
}

/// Everything the registry knows, in memory (a few hundred schemas at most).
#[derive(Default)]
struct State {
    global: Compatibility,
    levels: BTreeMap<String, Compatibility>,
    schemas: HashMap<u32, Stored>,
    by_identity: HashMap<String, u32>,
    /// Per subject, the schema id of each version (version n at index n-1).
    subjects: BTreeMap<String, Vec<u32>>,
    next_id: u32,
}

impl State {
    fn builtin() -> Result<Self, RegistryError> {
        let mut state = State {
            next_id: REGISTERED_ID_MIN,
            ..State::default()
        };
        for schema in EventSchema::ALL {
            state
                .apply(&Record::Schema {
                    subject: schema.subject(),
                    version: 1,
                    id: schema.builtin_id().0,
                    schema: schema.source().to_owned(),
                })
                .map_err(|e| RegistryError::Store(format!("built-in schema {schema}: {e}")))?;
        }
        Ok(state)
    }

    /// Applies a record, checking that it continues what is known (versions in order, one
    /// schema per id).
    fn apply(&mut self, record: &Record) -> Result<(), String> {
        match record {
            Record::Config {
                subject: None,
                compatibility,
            } => self.global = *compatibility,
            Record::Config {
                subject: Some(subject),
                compatibility,
            } => {
                self.levels.insert(subject.clone(), *compatibility);
            }
            Record::Schema {
                subject,
                version,
                id,
                schema,
            } => {
                let parsed = parse_schema(schema).map_err(|e| e.to_string())?;
                let identity = identity(&parsed).map_err(|e| e.to_string())?;
                let versions = self.subjects.entry(subject.clone()).or_default();
                let expected = versions.len() + 1;
                if *version as usize != expected {
                    return Err(format!(
                        "version {version} of subject '{subject}', expected version {expected}"
                    ));
                }
                match self.by_identity.get(&identity) {
                    Some(known) if known != id => {
                        return Err(format!(
                            "subject '{subject}' version {version} has id {id}, but that \
                             schema already has id {known}"
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if self.schemas.contains_key(id) {
                            return Err(format!(
                                "subject '{subject}' version {version}: id {id} already \
                                 belongs to another schema"
                            ));
                        }
                        self.by_identity.insert(identity.clone(), *id);
                        self.schemas.insert(
                            *id,
                            Stored {
                                text: schema.clone(),
                                parsed,
                                identity,
                            },
                        );
                    }
                }
                versions.push(*id);
                self.next_id = self.next_id.max(id.saturating_add(1));
            }
        }
        Ok(())
    }

    fn level_for(&self, subject: &str) -> Compatibility {
        self.levels.get(subject).copied().unwrap_or(self.global)
    }

    fn versions(&self, subject: &str) -> Result<&Vec<u32>, RegistryError> {
        self.subjects
            .get(subject)
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))
    }

    fn registered(&self, subject: &str, version: u32, id: u32) -> RegisteredSchema {
        RegisteredSchema {
            subject: subject.to_owned(),
            id,
            version,
            schema: self
                .schemas
                .get(&id)
                .map(|s| s.text.clone())
                .unwrap_or_default(),
        }
    }

    fn version(&self, subject: &str, version: Version) -> Result<RegisteredSchema, RegistryError> {
        let versions = self.versions(subject)?;
        let (number, id) = match version {
            Version::Latest => (versions.len(), versions.last()),
            Version::Number(n) => (n as usize, versions.get((n as usize).wrapping_sub(1))),
        };
        let id = id.ok_or_else(|| RegistryError::VersionNotFound {
            subject: subject.to_owned(),
            version: version.to_string(),
        })?;
        Ok(self.registered(subject, version_number(number), *id))
    }

    /// `(version, schema)` of every version of `subject`, ascending.
    fn history(&self, subject: &str) -> Vec<(u32, &Schema)> {
        self.subjects
            .get(subject)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, id)| Some((version_number(i + 1), &self.schemas.get(id)?.parsed)))
            .collect()
    }
}

/// Version numbers are at most 2^31-1 (checked when parsed); a subject never holds more.
fn version_number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn check_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.is_empty()
        || subject.chars().nth(SUBJECT_CHARS_MAX).is_some()
        || subject.chars().any(char::is_control)
    {
        return Err(RegistryError::InvalidSubject(subject.to_owned()));
    }
    Ok(())
}

/// The built-in, durable schema registry. Cheap to share (`Arc`).
pub struct LocalRegistry {
    /// A tokio mutex: registration checks, appends to the log (awaiting the fsync) and
    /// applies under one lock, so two registrations never take the same id or version.
    state: tokio::sync::Mutex<State>,
    /// The log, written from a blocking task (the fsync may take milliseconds); `None` when
    /// opened read-only.
    log: Option<Arc<std::sync::Mutex<File>>>,
    path: PathBuf,
}

impl LocalRegistry {
    /// Opens (creating it if needed) the registry kept in `dir`: the built-in schemas plus
    /// whatever `dir/schemas.jsonl` holds. A last line cut short by a crash is dropped
    /// (it was never acknowledged); any other unreadable line is an error naming it.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let store = |what: &str, e: std::io::Error| {
            RegistryError::Store(format!("{what} {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| store("creating", e))?;
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| store("opening the log in", e))?;
        if !existed {
            // The new file's directory entry must survive a crash too.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| store("syncing", e))?;
        }
        let mut state = State::builtin()?;
        let valid_len = replay(&mut file, &path, &mut state)?;
        let file_len = file
            .metadata()
            .map_err(|e| store("reading the log in", e))?
            .len();
        if valid_len < file_len {
            file.set_len(valid_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| store("truncating a torn last line of the log in", e))?;
        }
        Ok(Self {
            state: tokio::sync::Mutex::new(state),
            log: Some(Arc::new(std::sync::Mutex::new(file))),
            path,
        })
    }

    /// Opens the registry kept in `dir` for reading only, e.g. next to the running platform
    /// that owns it (`edalab tail`): the built-in schemas plus the complete lines of
    /// `dir/schemas.jsonl` when it exists. Creates, truncates and writes nothing; a
    /// registration fails.
    pub fn open_read_only(dir: &Path) -> Result<Self, RegistryError> {
        let path = dir.join(LOG_FILE);
        let mut state = State::builtin()?;
        match File::open(&path) {
            Ok(mut file) => {
                replay(&mut file, &path, &mut state)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(RegistryError::Store(format!(
                    "opening {}: {e}",
                    path.display()
                )));
            }
        }
        Ok(Self {
            state: tokio::sync::Mutex::new(state),
            log: None,
            path,
        })
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` and fsyncs it; returns once it is durable.
    async fn append(&self, record: &Record) -> Result<(), RegistryError> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| RegistryError::Store(format!("encoding a log record: {e}")))?;
        line.push(b'\n');
        let Some(log) = self.log.as_ref().map(Arc::clone) else {
            return Err(RegistryError::Store(format!(
                "{} is opened read-only",
                self.path.display()
            )));
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock only means another append panicked; the file is still usable
            // (a torn line is dropped at the next open).
            let mut file = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let len_before = file.metadata()?.len();
            let written = file.write_all(&line).and_then(|()| file.sync_data());
            if written.is_err() {
                // Not acknowledged: take back whatever part of the line reached the file, so
                // that the next record does not follow a torn one.
                let _ = file.set_len(len_before);
            }
            written
        })
        .await
        .map_err(|e| RegistryError::Store(format!("appending to {}: {e}", self.path.display())))?
        .map_err(|e| RegistryError::Store(format!("appending to {}: {e}", path.display())))
    }
}

/// Applies every complete line of the log to `state`; returns the length of the valid
/// prefix of the file.
fn replay(file: &mut File, path: &Path, state: &mut State) -> Result<u64, RegistryError> {
    let io = |e: std::io::Error| RegistryError::Store(format!("reading {}: {e}", path.display()));
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(&*file);
    let mut valid_len = 0u64;
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            // Cut short by a crash before its fsync returned: never acknowledged.
            break;
        }
        let bad = |message: String| {
            RegistryError::Store(format!("{} line {number}: {message}", path.display()))
        };
        let record: Record = serde_json::from_slice(&line).map_err(|e| bad(e.to_string()))?;
        state.apply(&record).map_err(bad)?;
        valid_len += read as u64;
    }
    Ok(valid_len)
}

#[async_trait]
impl SchemaRegistry for LocalRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        check_subject(subject)?;
        let parsed = parse_schema(schema)?;
        let identity = identity(&parsed)?;
        let mut state = self.state.lock().await;
        if let Some(versions) = state.subjects.get(subject)
            && let Some(id) = versions.iter().find(|id| {
                state
                    .schemas
                    .get(id)
                    .is_some_and(|s| s.identity == identity)
            })
        {
            return Ok(SchemaId(*id));
        }
        let level = state.level_for(subject);
        compat::check(level, &parsed, &state.history(subject))
            .map_err(|problems| compat::incompatible(subject, &problems))?;
        let id = state
            .by_identity
            .get(&identity)
            .copied()
            .unwrap_or(state.next_id);
        let version = state.subjects.get(subject).map_or(0, Vec::len) + 1;
        let record = Record::Schema {
            subject: subject.to_owned(),
            version: version_number(version),
            id,
            schema: schema.to_owned(),
        };
        self.append(&record).await?;
        state.apply(&record).map_err(RegistryError::Store)?;
        Ok(SchemaId(id))
    }

    /// Read-only, an id not known yet is looked for again in the log as it is now: the
    /// process that owns the registry may have registered it since this one opened it.
    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        let mut state = self.state.lock().await;
        if self.log.is_none() && !state.schemas.contains_key(&id.0) {
            *state = Self::open_read_only(self.path.parent().unwrap_or(Path::new(".")))?
                .state
                .into_inner();
        }
        state
            .schemas
            .get(&id.0)
            .map(|s| s.text.clone())
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {id} not found")))
    }

    async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.state.lock().await.subjects.keys().cloned().collect())
    }

    async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let state = self.state.lock().await;
        let count = state.versions(subject)?.len();
        Ok((1..=count).map(version_number).collect())
    }

    async fn version(
        &self,
        subject: &str,
        version: Version,
    ) -> Result<RegisteredSchema, RegistryError> {
        self.state.lock().await.version(subject, version)
    }

    async fn lookup(&self, subject: &str, schema: &str) -> Result<RegisteredSchema, RegistryError> {
        let identity = identity(&parse_schema(schema)?)?;
        let state = self.state.lock().await;
        let versions = state.versions(subject)?;
        versions
            .iter()
            .enumerate()
            .find(|(_, id)| {
                state
                    .schemas
                    .get(id)
                    .is_some_and(|s| s.identity == identity)
            })
            .map(|(i, id)| state.registered(subject, version_number(i + 1), *id))
            .ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".to_owned()))
    }

    async fn check_compatibility(
        &self,
        subject: &str,
        version: Version,
        schema: &str,
    ) -> Result<bool, RegistryError> {
        let parsed = parse_schema(schema)?;
        let state = self.state.lock().await;
        let level = state.level_for(subject);
        let history = state.history(subject);
        let against = match version {
            Version::Latest => {
                state.versions(subject)?;
                history
            }
            Version::Number(n) => {
                // 40401 / 40402 when the subject or the version does not exist.
                state.version(subject, version)?;
                history.into_iter().filter(|(v, _)| *v == n).collect()
            }
        };
        Ok(compat::check(level, &parsed, &against).is_ok())
    }

    async fn compatibility(&self, subject: Option<&str>) -> Result<Compatibility, RegistryError> {
        // A name no subject can have is refused (42208), not answered with a level.
        if let Some(subject) = subject {
            check_subject(subject)?;
        }
        let state = self.state.lock().await;
        match subject {
            None => Ok(state.global),
            Some(subject) => state.levels.get(subject).copied().ok_or_else(|| {
                RegistryError::SubjectCompatibilityNotConfigured(subject.to_owned())
            }),
        }
    }

    async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<Compatibility, RegistryError> {
        if let Some(subject) = subject {
            check_subject(subject)?;
        }
        let mut state = self.state.lock().await;
        let record = Record::Config {
            subject: subject.map(str::to_owned),
            compatibility: level,
        };
        self.append(&record).await?;
        state.apply(&record).map_err(RegistryError::Store)?;
        Ok(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_schema_is_version_1_of_its_subject_with_its_builtin_id() {
        let state = State::builtin().unwrap();
        assert_eq!(state.subjects.len(), EventSchema::ALL.len());
        for schema in EventSchema::ALL {
            let got = state.version(&schema.subject(), Version::Latest).unwrap();
            assert_eq!(got.version, 1);
            assert_eq!(SchemaId(got.id), schema.builtin_id());
            assert_eq!(got.schema, schema.source());
        }
        assert_eq!(state.next_id, REGISTERED_ID_MIN);
    }

    #[test]
    fn replay_refuses_records_that_do_not_follow() {
        let mut state = State::builtin().unwrap();
        let source = EventSchema::AccountOpened.source().to_owned();
        let err = state
            .apply(&Record::Schema {
                subject: "x-value".into(),
                version: 2,
                id: 1_000,
                schema: source.clone(),
            })
            .unwrap_err();
        assert!(err.contains("expected version 1"), "{err}");
        let err = state
            .apply(&Record::Schema {
                subject: "x-value".into(),
                version: 1,
                id: 1_000,
                schema: source,
            })
            .unwrap_err();
        assert!(err.contains("already has id 1"), "{err}");
    }

    #[test]
    fn subjects_are_checked() {
        assert!(check_subject("bancaire.compte.ouvert-value").is_ok());
        for bad in [String::new(), "a\nb".to_owned(), "x".repeat(256)] {
            assert_eq!(check_subject(&bad).unwrap_err().error_code(), 42208);
        }
    }
}
