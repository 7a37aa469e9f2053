-- derbes schema v2 (SQLite): the per-subject audit index leaves the commit path.
--
-- An index on audit_events(subject_id) put one random B-tree leaf into every commit (a read's
-- audit event dirtied about 1.5 pages). The writer now keeps the (subject_id, seq) pairs of new
-- events in memory and writes them, sorted, as a run: a run is appended, about one page per
-- hundred entries. Runs are merged in the background so they stay few. A subject's events are
-- the runs listed in audit_subject_run_list plus the events after the highest seq they cover.
DROP INDEX audit_events_subject;

CREATE TABLE audit_subject_runs (
    run        INTEGER NOT NULL,
    subject_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (run, subject_id, seq)
) WITHOUT ROWID;

-- Only listed runs are read; entries of an unlisted run (one being built or merged, or one
-- merged away) are deleted in the background.
CREATE TABLE audit_subject_run_list (
    run       INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    entries   INTEGER NOT NULL
);

-- Events recorded before this migration become the first run.
INSERT INTO audit_subject_runs (run, subject_id, seq)
    SELECT 1, subject_id, seq FROM audit_events WHERE subject_id IS NOT NULL ORDER BY subject_id, seq;
INSERT INTO audit_subject_run_list (run, first_seq, last_seq, entries)
    SELECT 1, MIN(seq), MAX(seq), COUNT(*) FROM audit_events WHERE subject_id IS NOT NULL
    HAVING COUNT(*) > 0;
