-- Ledger ("bancaire") schema for PostgreSQL (S3-08): see docs/adr/006-ledger-store.md.
CREATE SCHEMA IF NOT EXISTS bancaire;

CREATE TABLE bancaire.comptes (
    id          VARCHAR(36)    NOT NULL PRIMARY KEY,
    client_id   VARCHAR(36)    NOT NULL,
    type_compte VARCHAR(10)    NOT NULL CHECK (type_compte IN ('COURANT', 'EPARGNE', 'JOINT')),
    devise      CHAR(3)        NOT NULL,
    solde       NUMERIC(18, 2) NOT NULL CHECK (solde >= 0),
    statut      VARCHAR(10)    NOT NULL CHECK (statut IN ('ACTIF', 'FERME', 'BLOQUE')),
    iban        VARCHAR(34),
    version     BIGINT         NOT NULL,
    created_at  TIMESTAMPTZ    NOT NULL,
    updated_at  TIMESTAMPTZ    NOT NULL
);
CREATE INDEX idx_comptes_client_id ON bancaire.comptes (client_id);

-- seq is application order: "newest first" is ORDER BY seq DESC.
CREATE TABLE bancaire.transactions (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    id         UUID           NOT NULL PRIMARY KEY,
    compte_id  VARCHAR(36)    NOT NULL REFERENCES bancaire.comptes (id),
    type       VARCHAR(20)    NOT NULL CHECK (type IN ('DEPOT', 'RETRAIT', 'VIREMENT_ENTRANT', 'VIREMENT_SORTANT')),
    montant    NUMERIC(18, 2) NOT NULL CHECK (montant > 0),
    devise     CHAR(3)        NOT NULL,
    reference  VARCHAR(100),
    created_at TIMESTAMPTZ    NOT NULL
);
CREATE INDEX idx_transactions_compte_id ON bancaire.transactions (compte_id, seq DESC);

-- seq is the order in which the ledger decided the events.
CREATE TABLE bancaire.inbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    event_id    UUID        NOT NULL PRIMARY KEY,
    topic       TEXT        NOT NULL,
    partition   INTEGER     NOT NULL,
    "offset"    BIGINT      NOT NULL,
    outcome     VARCHAR(10) NOT NULL CHECK (outcome IN ('APPLIED', 'REJECTED')),
    reason_code TEXT
);

CREATE TABLE bancaire.positions (
    group_id    TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT  NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);

CREATE TABLE bancaire.outbox (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic   TEXT  NOT NULL,
    key     BYTEA,
    payload BYTEA NOT NULL,
    headers BYTEA NOT NULL
);
