-- derbes schema v3 (PostgreSQL): obligations that keep a consent from being withdrawn
-- (Art. 8(2)). One row per subject and purpose while the obligation is recorded; the JSON holds a
-- note, an optional last day, who recorded it and when.
CREATE TABLE obligations (
    subject_id UUID NOT NULL,
    purpose    TEXT NOT NULL,
    obligation TEXT NOT NULL,
    PRIMARY KEY (subject_id, purpose)
);
