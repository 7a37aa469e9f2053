-- derbes schema v13 (SQLite): archived segments of the audit chain. The oldest events, past the
-- configured audit retention, move to archive files; each segment is signed and continues the
-- one before, and the events kept here continue the last.
CREATE TABLE audit_segments (
    n            INTEGER PRIMARY KEY,
    first_seq    INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL,
    digest       BLOB NOT NULL,
    at           TEXT NOT NULL,
    legacy_until INTEGER NOT NULL,
    signature    BLOB NOT NULL
);
