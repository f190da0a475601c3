//! [`SchemaCatalog`]: the parsed schemas and the schema ids they travel under.
//!
//! The built-in catalog numbers the schemas 1..N in [`EventSchema::ALL`] order, which is
//! what the embedded registry serves. Against an external Confluent-compatible registry,
//! the registration step registers each [`EventSchema::source`] under
//! [`EventSchema::subject`] and hands the returned id to [`SchemaCatalog::assign_id`];
//! encoding and decoding then use the registry's ids.
//!
//! A record may also arrive framed with an id the catalog did not frame it with: a later
//! version of the subject, registered at run time by another producer (a newer edalab, or
//! any Confluent client). The registry's resolver ([`crate::registry::learn_writers`])
//! fetches that writer schema and hands it to [`SchemaCatalog::learn`]; from then on the
//! id decodes with Avro schema resolution from the writer's schema to the catalog's own
//! (added fields take their defaults, removed fields are skipped). The catalog itself never
//! does I/O.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use apache_avro::Schema;

use crate::embedded::EventSchema;
use crate::error::WireError;
use crate::resolution::Resolution;

/// A schema id as carried in bytes 1..5 of the Confluent wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Writer schemas a catalog keeps learned; past this [`SchemaCatalog::learn`] refuses new
/// ones (a subject has a handful of versions: this is only a bound against a stream of
/// forged ids).
pub const LEARNED_SCHEMAS_MAX: usize = 1024;

/// What the catalog knows of an id it did not frame with.
#[derive(Debug, Clone)]
enum Learned {
    /// A version of `schema`'s record that resolves to the catalog's own.
    Readable {
        schema: EventSchema,
        resolution: Arc<Resolution>,
    },
    /// A schema the catalog cannot read, and why (kept so that every record framed with it
    /// is refused with the reason, without asking the registry again).
    Unreadable(Arc<str>),
}

/// Parsed schemas (parsed once, at construction) and their ids, both ways, plus the writer
/// schemas learned at run time.
#[derive(Debug)]
pub struct SchemaCatalog {
    /// Indexed by [`EventSchema::index`].
    schemas: Vec<Schema>,
    /// Indexed by [`EventSchema::index`].
    ids: Vec<SchemaId>,
    by_id: HashMap<SchemaId, EventSchema>,
    /// A std lock, never held across an `.await`; read only for ids not in `by_id`.
    learned: RwLock<HashMap<SchemaId, Learned>>,
}

impl Clone for SchemaCatalog {
    fn clone(&self) -> Self {
        Self {
            schemas: self.schemas.clone(),
            ids: self.ids.clone(),
            by_id: self.by_id.clone(),
            learned: RwLock::new(self.learned_map().clone()),
        }
    }
}

impl SchemaCatalog {
    /// Every embedded schema, parsed, with the built-in ids 1..N.
    pub fn builtin() -> Result<Self, WireError> {
        let schemas = EventSchema::ALL
            .into_iter()
            .map(EventSchema::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<SchemaId> = EventSchema::ALL.iter().map(|s| s.builtin_id()).collect();
        let by_id = EventSchema::ALL
            .iter()
            .map(|s| (s.builtin_id(), *s))
            .collect();
        Ok(Self {
            schemas,
            ids,
            by_id,
            learned: RwLock::new(HashMap::new()),
        })
    }

    /// The same schemas framed with `ids` (the ids a registry returned at registration);
    /// schemas not named keep their id. Fails if two schemas would share an id.
    pub fn with_ids(
        &self,
        ids: impl IntoIterator<Item = (EventSchema, SchemaId)>,
    ) -> Result<Self, WireError> {
        let mut framed = self.ids.clone();
        for (schema, id) in ids {
            framed[schema.index()] = id;
        }
        let mut by_id = HashMap::with_capacity(framed.len());
        for schema in EventSchema::ALL {
            let id = framed[schema.index()];
            if let Some(owner) = by_id.insert(id, schema) {
                return Err(WireError::IdConflict {
                    id,
                    owner: owner.record_name(),
                    requested: schema.record_name(),
                });
            }
        }
        Ok(Self {
            schemas: self.schemas.clone(),
            ids: framed,
            by_id,
            learned: RwLock::new(HashMap::new()),
        })
    }

    /// Uses `id` for `schema` from now on (an id handed out by an external registry).
    /// Bytes framed with the schema's previous id are no longer recognised. Fails if
    /// another schema already holds `id`.
    pub fn assign_id(&mut self, schema: EventSchema, id: SchemaId) -> Result<(), WireError> {
        if let Some(owner) = self.by_id.get(&id).copied() {
            if owner == schema {
                return Ok(());
            }
            return Err(WireError::IdConflict {
                id,
                owner: owner.record_name(),
                requested: schema.record_name(),
            });
        }
        let old = self.ids[schema.index()];
        self.by_id.remove(&old);
        self.by_id.insert(id, schema);
        self.ids[schema.index()] = id;
        Ok(())
    }

    /// The parsed schema.
    pub fn schema(&self, schema: EventSchema) -> &Schema {
        &self.schemas[schema.index()]
    }

    /// The id `schema` is framed with.
    pub fn id_of(&self, schema: EventSchema) -> SchemaId {
        self.ids[schema.index()]
    }

    /// The schema framed with `id`, if known.
    pub fn by_id(&self, id: SchemaId) -> Option<EventSchema> {
        self.by_id.get(&id).copied()
    }

    /// Resolves `id` (framed by the catalog or learned), or fails with
    /// [`WireError::UnknownSchemaId`] or, for a learned schema it cannot read,
    /// [`WireError::Unreadable`].
    pub fn resolve(&self, id: SchemaId) -> Result<EventSchema, WireError> {
        if let Some(schema) = self.by_id(id) {
            return Ok(schema);
        }
        Ok(self.writer(id)?.0)
    }

    /// Whether records framed with `id` need nothing from a registry: the catalog frames
    /// with it, or learned it (readable or not).
    pub fn knows(&self, id: SchemaId) -> bool {
        self.by_id.contains_key(&id) || self.learned_map().contains_key(&id)
    }

    /// The record learned for `id`, and how to read its writer's records as the catalog's.
    pub(crate) fn writer(&self, id: SchemaId) -> Result<(EventSchema, Arc<Resolution>), WireError> {
        match self.learned_map().get(&id) {
            Some(Learned::Readable { schema, resolution }) => Ok((*schema, Arc::clone(resolution))),
            Some(Learned::Unreadable(reason)) => Err(WireError::Unreadable {
                id,
                reason: reason.to_string(),
            }),
            None => Err(WireError::UnknownSchemaId(id)),
        }
    }

    /// Learns `writer` (fetched from a registry) as the schema of records framed with `id`:
    /// it must be a version of one of the catalog's records (same full name) that Avro
    /// schema resolution can read into the catalog's own. A schema that cannot be read is
    /// remembered as such, and every record framed with it fails with the reason.
    /// Learning an id the catalog frames with changes nothing.
    pub fn learn(&self, id: SchemaId, writer: Schema) -> Result<EventSchema, WireError> {
        if let Some(schema) = self.by_id(id) {
            return Ok(schema);
        }
        let learned = self.readable(writer);
        let mut map = self.learned.write().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&id) && map.len() >= LEARNED_SCHEMAS_MAX {
            return Err(WireError::Unreadable {
                id,
                reason: format!("{LEARNED_SCHEMAS_MAX} foreign schemas already learned"),
            });
        }
        map.insert(id, learned.clone());
        drop(map);
        match learned {
            Learned::Readable { schema, .. } => Ok(schema),
            Learned::Unreadable(reason) => Err(WireError::Unreadable {
                id,
                reason: reason.to_string(),
            }),
        }
    }

    /// Remembers that records framed with `id` cannot be read, and why (the registry's
    /// schema for it does not parse). Ids the catalog frames with are left alone.
    pub fn refuse(&self, id: SchemaId, reason: &str) {
        if self.by_id.contains_key(&id) {
            return;
        }
        let mut map = self.learned.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() < LEARNED_SCHEMAS_MAX {
            map.insert(id, Learned::Unreadable(reason.into()));
        }
    }

    fn readable(&self, writer: Schema) -> Learned {
        let Schema::Record(record) = &writer else {
            return Learned::Unreadable("not a record schema".into());
        };
        let name = record.name.fullname(None);
        let Some(schema) = EventSchema::ALL.into_iter().find(|s| s.to_string() == name) else {
            return Learned::Unreadable(format!("record {name} is none of edalab's").into());
        };
        match Resolution::new(&writer, self.schema(schema)) {
            Ok(resolution) => Learned::Readable {
                schema,
                resolution: Arc::new(resolution),
            },
            Err(error) => Learned::Unreadable(
                format!("{name} as written cannot be read as edalab's {name}: {error}").into(),
            ),
        }
    }

    fn learned_map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<SchemaId, Learned>> {
        self.learned.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every schema with its current id, in [`EventSchema::ALL`] order (for `schemas
    /// list` and registration).
    pub fn entries(&self) -> impl Iterator<Item = (EventSchema, SchemaId)> + '_ {
        EventSchema::ALL.into_iter().map(|s| (s, self.id_of(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_one_to_n_in_fixed_order() {
        let catalog = SchemaCatalog::builtin().unwrap();
        let ids: Vec<u32> = catalog.entries().map(|(_, id)| id.0).collect();
        assert_eq!(ids, (1..=12).collect::<Vec<_>>());
        assert_eq!(catalog.id_of(EventSchema::AccountOpened), SchemaId(1));
        assert_eq!(
            catalog.by_id(SchemaId(5)),
            Some(EventSchema::TransferIssued)
        );
        assert_eq!(catalog.by_id(SchemaId(0)), None);
        assert!(matches!(
            catalog.resolve(SchemaId(99)),
            Err(WireError::UnknownSchemaId(SchemaId(99)))
        ));
    }

    #[test]
    fn external_ids_can_be_plugged_in() {
        let mut catalog = SchemaCatalog::builtin().unwrap();
        catalog
            .assign_id(EventSchema::AccountOpened, SchemaId(100_042))
            .unwrap();
        assert_eq!(catalog.id_of(EventSchema::AccountOpened), SchemaId(100_042));
        assert_eq!(
            catalog.by_id(SchemaId(100_042)),
            Some(EventSchema::AccountOpened)
        );
        assert_eq!(catalog.by_id(SchemaId(1)), None);
        // Idempotent for the same schema, refused for another.
        catalog
            .assign_id(EventSchema::AccountOpened, SchemaId(100_042))
            .unwrap();
        let err = catalog
            .assign_id(EventSchema::DepositMade, SchemaId(100_042))
            .unwrap_err();
        assert!(err.to_string().contains("CompteOuvert"), "{err}");
    }
}
