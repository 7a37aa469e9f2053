-- derbes schema v1 (SQLite). Every per-subject table carries subject_id.
CREATE TABLE subjects (
    id             BLOB PRIMARY KEY,          -- UUIDv7, 16 bytes
    category       TEXT NOT NULL,
    dek            BLOB NOT NULL,             -- the subject's data key, wrapped by a KEK
    kek_version    INTEGER NOT NULL,
    dek_generation INTEGER NOT NULL,
    fields         BLOB NOT NULL,             -- sealed field values (see fields_blob.rs)
    version        INTEGER NOT NULL,          -- row version for optimistic concurrency
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE blind_index (
    field      TEXT NOT NULL,
    digest     BLOB NOT NULL,                 -- HMAC-SHA256 of the normalized value
    category   TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    PRIMARY KEY (field, digest, category)
) WITHOUT ROWID;
CREATE INDEX blind_index_subject ON blind_index (subject_id);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
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
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    mac  TEXT NOT NULL
);

CREATE TABLE tokens (
    digest     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    purposes   TEXT NOT NULL,                 -- JSON array of purpose keys
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE declarations (
    version      TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    content      TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
