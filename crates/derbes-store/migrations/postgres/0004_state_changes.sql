-- derbes schema v4 (PostgreSQL): the feed of subjects whose decision facts changed (fields,
-- consents, representatives, blocks, restrictions, obligations), keyed by the sequence number of
-- the audit event that recorded the change. Writers hold the chain's head lock until they
-- commit, so commits follow the chain's order and a reader that has seen a change has seen every
-- earlier one. Caches of decision facts, in any derbes process, read it to drop what changed.
-- Old rows are pruned; `state_change_floor` says up to where.
CREATE TABLE state_changes (
    seq        BIGINT PRIMARY KEY,
    subject_id UUID NOT NULL
);
CREATE TABLE state_change_floor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO state_change_floor (id, seq) VALUES (1, 0);
