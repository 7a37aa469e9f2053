-- derbes schema v23 (PostgreSQL): the last retention scan (counts and a few subject ids, never
-- a value), kept for Today. One row.
CREATE TABLE retention_scans (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    made_at TEXT NOT NULL,
    report  TEXT NOT NULL
);
