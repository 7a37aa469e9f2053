-- derbes schema v6 (PostgreSQL): destroyed subjects and access packages.
-- `destructions` keeps the non-personal record of each crypto-shredded subject (JSON); the same
-- record goes to the destruction log outside the database, which a restore re-applies.
CREATE TABLE destructions (
    subject_id   UUID PRIMARY KEY,
    destroyed_at TEXT NOT NULL,
    record       TEXT NOT NULL
);

-- The access package of a request: a zip sealed under the request's data key, deleted when it
-- expires or when the subject is destroyed.
CREATE TABLE request_packages (
    request_id UUID PRIMARY KEY,
    subject_id UUID NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    sealed     BYTEA NOT NULL
);
CREATE INDEX request_packages_of_subject ON request_packages (subject_id);
CREATE INDEX request_packages_by_expiry ON request_packages (expires_at);
