//! [`SchemaCatalog`]: the parsed schemas and the schema ids they travel under.
//!
//! The built-in catalog numbers the schemas 1..N in [`EventSchema::ALL`] order, which is
//! what the embedded registry serves. Against an external Confluent-compatible registry,
//! the registration step registers each [`EventSchema::source`] under
//! [`EventSchema::subject`] and hands the returned id to [`SchemaCatalog::assign_id`];
//! encoding and decoding then use the registry's ids. The catalog itself never does I/O.

use std::collections::HashMap;
use std::fmt;

use apache_avro::Schema;

use crate::embedded::EventSchema;
use crate::error::WireError;

/// A schema id as carried in bytes 1..5 of the Confluent wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parsed schemas (parsed once, at construction) and their ids, both ways.
#[derive(Debug, Clone)]
pub struct SchemaCatalog {
    /// Indexed by [`EventSchema::index`].
    schemas: Vec<Schema>,
    /// Indexed by [`EventSchema::index`].
    ids: Vec<SchemaId>,
    by_id: HashMap<SchemaId, EventSchema>,
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

    /// Resolves `id`, or fails with [`WireError::UnknownSchemaId`].
    pub fn resolve(&self, id: SchemaId) -> Result<EventSchema, WireError> {
        self.by_id(id).ok_or(WireError::UnknownSchemaId(id))
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
