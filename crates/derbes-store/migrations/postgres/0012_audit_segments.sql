-- derbes schema v12 (PostgreSQL): archived segments of the audit chain. The oldest events, past
-- the configured audit retention, move to archive files; each segment is signed and continues
-- the one before, and the events kept here continue the last.
CREATE TABLE audit_segments (
    n            BIGINT PRIMARY KEY,
    first_seq    BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL,
    prev_hash    BYTEA NOT NULL,
    hash         BYTEA NOT NULL,
    digest       BYTEA NOT NULL,
    at           TEXT NOT NULL,
    legacy_until BIGINT NOT NULL,
    signature    BYTEA NOT NULL
);
