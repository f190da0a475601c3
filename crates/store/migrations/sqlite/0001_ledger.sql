-- Ledger ("bancaire") schema for SQLite (S3-08). Money is stored as integer cents,
-- timestamps as integer microseconds since the Unix epoch (UTC): see
-- docs/adr/006-ledger-store.md.
CREATE TABLE comptes (
    id            TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 36),
    client_id     TEXT    NOT NULL CHECK (length(client_id) BETWEEN 1 AND 36),
    type_compte   TEXT    NOT NULL CHECK (type_compte IN ('COURANT', 'EPARGNE', 'JOINT')),
    devise        TEXT    NOT NULL CHECK (length(devise) = 3),
    solde_cents   INTEGER NOT NULL CHECK (solde_cents >= 0),
    statut        TEXT    NOT NULL CHECK (statut IN ('ACTIF', 'FERME', 'BLOQUE')),
    iban          TEXT,
    version       INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX idx_comptes_client_id ON comptes (client_id);

-- Rowid order is application order: "newest first" is ORDER BY rowid DESC, served by
-- idx_transactions_compte_id (an index entry ends with the rowid).
CREATE TABLE transactions (
    id            TEXT    NOT NULL PRIMARY KEY,
    compte_id     TEXT    NOT NULL,
    type          TEXT    NOT NULL CHECK (type IN ('DEPOT', 'RETRAIT', 'VIREMENT_ENTRANT', 'VIREMENT_SORTANT')),
    montant_cents INTEGER NOT NULL CHECK (montant_cents > 0),
    devise        TEXT    NOT NULL,
    reference     TEXT,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX idx_transactions_compte_id ON transactions (compte_id);

-- One row per consumed event: the dedup record (exactly-once effects). seq is the order
-- in which the ledger decided the events (the reconciliation replays in that order).
CREATE TABLE inbox (
    seq         INTEGER PRIMARY KEY,
    event_id    BLOB    NOT NULL UNIQUE,
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    "offset"    INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('APPLIED', 'REJECTED')),
    reason_code TEXT
);

-- Consumer positions kept with the state they describe.
CREATE TABLE positions (
    group_id    TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;

-- Events to publish once committed (rejections), in id order.
CREATE TABLE outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    key     BLOB,
    payload BLOB NOT NULL,
    headers BLOB NOT NULL
);
