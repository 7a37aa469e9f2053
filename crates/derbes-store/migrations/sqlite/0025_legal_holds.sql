-- derbes schema v25 (SQLite): the subjects on whom a legal hold was ever recorded (a
-- lifecycle event of kind `legal_hold`), so that the register of holds reads their ledgers
-- without scanning every subject's. Written with the event; destroyed with the subject.
CREATE TABLE legal_holds (
    subject_id BLOB NOT NULL,
    event_id   BLOB NOT NULL,
    PRIMARY KEY (subject_id, event_id)
) WITHOUT ROWID;
