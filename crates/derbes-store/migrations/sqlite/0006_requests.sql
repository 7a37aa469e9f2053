-- derbes schema v6 (SQLite): data-subject requests. The columns are what lists filter and sort
-- on; `body` is the server's JSON (history, verification, actions), with the requester's words
-- sealed under the request's own data key (`dek`, wrapped by the KEK).
CREATE TABLE requests (
    id          BLOB PRIMARY KEY,
    subject_id  BLOB NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    open        INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    dek         BLOB NOT NULL,
    kek_version INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    body        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX requests_of_subject ON requests (subject_id, kind, open);
CREATE INDEX requests_by_due ON requests (due_at, id);
CREATE INDEX requests_open_by_due ON requests (due_at, id) WHERE open = 1;
