-- derbes schema v26 (SQLite): retention batches, what one retention rule destroys or
-- depersonalizes as proposed to the DPO and approved (`batch`, JSON, with its version), and
-- their items, one per subject (the fields it loses), with what executing each came to.
CREATE TABLE retention_batches (
    id         BLOB PRIMARY KEY,
    created_at TEXT NOT NULL,
    version    INTEGER NOT NULL,
    batch      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX retention_batches_by_time ON retention_batches (created_at);
CREATE TABLE retention_batch_items (
    batch_id   BLOB NOT NULL,
    subject_id BLOB NOT NULL,
    item       TEXT NOT NULL,
    outcome    TEXT,
    PRIMARY KEY (batch_id, subject_id)
) WITHOUT ROWID;
