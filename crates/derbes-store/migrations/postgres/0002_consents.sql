-- derbes schema v2 (PostgreSQL): the consent ledger, legal representatives, blocks and
-- restrictions. Each row's JSON holds ids, codes, hashes and times, never a field value.

-- Append-only: n counts a subject's events from 0, so two writers that decided on the same
-- ledger cannot both append.
CREATE TABLE consent_events (
    subject_id UUID NOT NULL,
    n          INTEGER NOT NULL,
    id         UUID NOT NULL UNIQUE,
    purpose    TEXT NOT NULL,
    at         TEXT NOT NULL,
    event      TEXT NOT NULL,
    PRIMARY KEY (subject_id, n)
);

CREATE TABLE representatives (
    subject_id        UUID NOT NULL,
    representative_id UUID NOT NULL,
    link              TEXT NOT NULL,
    PRIMARY KEY (subject_id, representative_id)
);
CREATE INDEX representatives_of ON representatives (representative_id);

-- purpose '' is the block of all processing; any other is the restriction of that purpose.
CREATE TABLE subject_flags (
    subject_id UUID NOT NULL,
    purpose    TEXT NOT NULL,
    flag       TEXT NOT NULL,
    PRIMARY KEY (subject_id, purpose)
);
