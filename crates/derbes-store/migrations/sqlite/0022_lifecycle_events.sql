-- derbes schema v22 (SQLite): each subject's lifecycle events (the relationship ended, a
-- purpose achieved, an event retracted), which start retention periods. Appended in order,
-- never edited: `n` is the event's place in the subject's ledger. Destroyed with the subject.
CREATE TABLE lifecycle_events (
    subject_id BLOB NOT NULL,
    n          INTEGER NOT NULL,
    id         BLOB NOT NULL UNIQUE,
    event      TEXT NOT NULL,
    PRIMARY KEY (subject_id, n)
) WITHOUT ROWID;
