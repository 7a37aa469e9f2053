-- derbes schema v26 (PostgreSQL): depersonalized records, what a retention rule that
-- depersonalizes keeps of a subject (`record`, JSON: the category and the values that stay),
-- by rule. A record names no subject, batch or time: its id is random, and the table is
-- rewritten in the order of its ids when a batch is done, so not even the order of rows tells
-- which subject a record came from. And the keys of batches that depersonalize (a pseudonym's
-- key, wrapped by the KEK like a data key), deleted when the batch is done.
CREATE TABLE depersonalized_records (
    id     UUID PRIMARY KEY,
    rule   TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX depersonalized_records_by_rule ON depersonalized_records (rule, id);
CREATE TABLE pseudonym_keys (
    batch_id    UUID PRIMARY KEY,
    dek         BYTEA NOT NULL,
    kek_version INTEGER NOT NULL
);
