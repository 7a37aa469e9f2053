-- derbes schema v1 (PostgreSQL). Every per-subject table carries subject_id so that a
-- Postgres-wire distributed engine can shard by it.
CREATE TABLE subjects (
    id             UUID PRIMARY KEY,
    category       TEXT NOT NULL,
    dek            BYTEA NOT NULL,
    kek_version    INTEGER NOT NULL,
    dek_generation INTEGER NOT NULL,
    fields         BYTEA NOT NULL,
    version        BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE blind_index (
    field      TEXT NOT NULL,
    digest     BYTEA NOT NULL,
    category   TEXT NOT NULL,
    subject_id UUID NOT NULL,
    PRIMARY KEY (field, digest, category)
);
CREATE INDEX blind_index_subject ON blind_index (subject_id);

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject_id TEXT,
    purpose    TEXT,
    fields     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    details    TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject_id, seq) WHERE subject_id IS NOT NULL;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL,
    mac  TEXT NOT NULL
);

CREATE TABLE tokens (
    digest     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    purposes   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE declarations (
    version      TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    content      TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
