-- derbes schema v17 (SQLite): consents a legal representative gave for a subject, which the
-- subject is to confirm in their own name in the month they come of age. Only that month is kept
-- in the clear (`YYYY-MM`), never the sealed birth date, so that the console's Today can list the
-- duties due without opening anyone's data. A row ends with the subject's next consent event for
-- the purpose, with any withdrawal, and with the subject's destruction.
CREATE TABLE majority_reconfirmations (
    subject_id BLOB NOT NULL,
    purpose    TEXT NOT NULL,
    due_month  TEXT NOT NULL,
    PRIMARY KEY (subject_id, purpose)
) WITHOUT ROWID;
CREATE INDEX majority_reconfirmations_by_month
    ON majority_reconfirmations (due_month, subject_id, purpose);
