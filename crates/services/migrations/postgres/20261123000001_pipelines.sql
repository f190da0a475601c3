-- The four pipelines' stores on PostgreSQL (docs/adr/017-pipeline-stores-on-postgres.md).
-- Unqualified names: the pool's search_path is the pipelines' schema (default
-- `edalab_pipelines`); the prefix names the pipeline (s0 transactions, s1 calculator,
-- s2 intake, s4 saga). Same columns and semantics as the SQLite files.

-- S0: one row per transaction, PENDING -> PROCESSED | FAILED.
CREATE TABLE s0_transactions (
    id           TEXT PRIMARY KEY,
    amount       NUMERIC,
    currency     TEXT,
    account_from TEXT,
    account_to   TEXT,
    "timestamp"  TIMESTAMPTZ,
    status       TEXT NOT NULL CHECK (status IN ('PENDING', 'PROCESSED', 'FAILED')),
    processed_at TIMESTAMPTZ,
    error        TEXT
);

-- S0-05 analytics: running totals per currency (scale 2).
CREATE TABLE s0_currency_totals (
    currency TEXT PRIMARY KEY,
    count    BIGINT  NOT NULL,
    total    NUMERIC NOT NULL
);

-- S0-05: one inbox per effect (analytics, archive, notification), keyed by position and
-- by event id (the transactionId).
CREATE TABLE s0_effects_applied (
    effect   TEXT   NOT NULL,
    grp      TEXT   NOT NULL,
    topic    TEXT   NOT NULL,
    part     BIGINT NOT NULL,
    "off"    BIGINT NOT NULL,
    event_id TEXT,
    PRIMARY KEY (effect, grp, topic, part, "off")
);
CREATE UNIQUE INDEX s0_effects_applied_event
    ON s0_effects_applied (effect, event_id) WHERE event_id IS NOT NULL;

-- S0-05 archive: committed length of each archive file.
CREATE TABLE s0_archive_files (
    file          TEXT PRIMARY KEY,
    committed_len BIGINT NOT NULL
);

-- S1: one row per calculation; operands and result as JSON number text (as submitted).
CREATE TABLE s1_calculations (
    id        TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    a         TEXT NOT NULL,
    b         TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    result    TEXT,
    error     TEXT
);

-- S2: one row per order_id, and the duplicates received after it.
CREATE TABLE s2_orders (
    order_id     TEXT PRIMARY KEY,
    status       TEXT        NOT NULL,
    content      JSONB       NOT NULL,
    reasons      TEXT[]      NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    intake_id    TEXT        NOT NULL,
    file_name    TEXT        NOT NULL
);
CREATE TABLE s2_duplicates (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    intake_id    TEXT PRIMARY KEY,
    order_id     TEXT        NOT NULL,
    content      JSONB       NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    file_name    TEXT        NOT NULL
);
CREATE INDEX s2_duplicates_order ON s2_duplicates (order_id, seq);

-- S4: the payment service's decisions and the tracking service's events.
CREATE TABLE s4_payment_decisions (
    order_event_id    TEXT PRIMARY KEY,
    user_id           TEXT    NOT NULL,
    authorized_amount NUMERIC NOT NULL,
    topic             TEXT    NOT NULL,
    payload           BYTEA   NOT NULL
);
CREATE INDEX s4_payment_decisions_user ON s4_payment_decisions (user_id);
CREATE TABLE s4_saga_events (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id TEXT  NOT NULL UNIQUE,
    order_id TEXT  NOT NULL,
    topic    TEXT  NOT NULL,
    payload  BYTEA NOT NULL
);
CREATE INDEX s4_saga_events_order ON s4_saga_events (order_id, seq);
