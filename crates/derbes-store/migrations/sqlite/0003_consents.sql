-- derbes schema v3 (SQLite): the consent ledger, legal representatives, blocks and restrictions.
-- Each row's JSON holds ids, codes, hashes and times, never a field value.

-- Append-only: n counts a subject's events from 0, so two writers that decided on the same
-- ledger cannot both append.
CREATE TABLE consent_events (
    subject_id BLOB NOT NULL,
    n          INTEGER NOT NULL,
    id         BLOB NOT NULL UNIQUE,
    purpose    TEXT NOT NULL,
    at         TEXT NOT NULL,
    event      TEXT NOT NULL,
    PRIMARY KEY (subject_id, n)
) WITHOUT ROWID;

CREATE TABLE representatives (
    subject_id        BLOB NOT NULL,
    representative_id BLOB NOT NULL,
    link              TEXT NOT NULL,
    PRIMARY KEY (subject_id, representative_id)
) WITHOUT ROWID;
CREATE INDEX representatives_of ON representatives (representative_id);

-- purpose '' is the block of all processing; any other is the restriction of that purpose.
CREATE TABLE subject_flags (
    subject_id BLOB NOT NULL,
    purpose    TEXT NOT NULL,
    flag       TEXT NOT NULL,
    PRIMARY KEY (subject_id, purpose)
) WITHOUT ROWID;
