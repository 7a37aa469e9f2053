-- derbes schema v7 (SQLite): destroyed subjects and access packages.
-- `destructions` keeps the non-personal record of each crypto-shredded subject (JSON); the same
-- record goes to the destruction log outside the database, which a restore re-applies.
CREATE TABLE destructions (
    subject_id   BLOB PRIMARY KEY,
    destroyed_at TEXT NOT NULL,
    record       TEXT NOT NULL
) WITHOUT ROWID;

-- The access package of a request: a zip sealed under the request's data key, deleted when it
-- expires or when the subject is destroyed.
CREATE TABLE request_packages (
    request_id BLOB PRIMARY KEY,
    subject_id BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    sealed     BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX request_packages_of_subject ON request_packages (subject_id);
CREATE INDEX request_packages_by_expiry ON request_packages (expires_at);
