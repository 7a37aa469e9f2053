-- derbes schema v5 (SQLite): the feed of subjects whose decision facts changed (fields,
-- consents, representatives, blocks, restrictions, obligations), keyed by the sequence number of
-- the audit event that recorded the change. Commits follow the chain's order, so a reader that
-- has seen a change has seen every earlier one. Caches of decision facts, in this process or
-- another, read it to drop what changed. Old rows are pruned; `state_change_floor` says up to
-- where, so a reader that fell behind knows to start over.
CREATE TABLE state_changes (
    seq        INTEGER PRIMARY KEY,
    subject_id BLOB NOT NULL
);
CREATE TABLE state_change_floor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO state_change_floor (id, seq) VALUES (1, 0);
