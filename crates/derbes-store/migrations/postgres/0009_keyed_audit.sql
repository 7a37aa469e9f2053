-- derbes schema v9 (PostgreSQL): a keyed audit chain with signed checkpoints, and fewer bytes per
-- event.
--
-- Event hashes become keyed (HMAC-SHA256 under a key of the key file) and are stored as 32 bytes
-- instead of 64 hex digits; `prev_hash` goes, since it is always the previous event's hash and
-- verification links events by walking them in order. The head signed before (hex hash, base64
-- MAC) is kept as `audit_head_v1`: the first start after this migration verifies the chain
-- written before against it and seals it with checkpoint 1.
ALTER TABLE audit_head RENAME TO audit_head_v1;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    mac  BYTEA NOT NULL
);
-- The writer locks this row in every commit group; a new chain's start replaces it.
INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, ''::bytea, ''::bytea);

-- A signed, monotonic series: checkpoint n says the chain held `seq` events, the last with
-- `hash`, at `at`. Copies are exported outside the database.
CREATE TABLE audit_checkpoints (
    n            BIGINT PRIMARY KEY,
    seq          BIGINT NOT NULL,
    hash         BYTEA NOT NULL,
    at           TEXT NOT NULL,
    legacy_until BIGINT NOT NULL,
    signature    BYTEA NOT NULL
);

ALTER TABLE audit_events ALTER COLUMN hash TYPE BYTEA USING decode(hash, 'hex');
ALTER TABLE audit_events DROP COLUMN prev_hash;
