-- derbes schema v10 (PostgreSQL): subjects' data keys in a narrow table of their own.
--
-- PostgreSQL never overwrites a row in place: a deleted or updated row stays in its page as a
-- dead tuple, and a plain VACUUM marks its space free without erasing it. A destroyed subject's
-- wrapped data key must not stay readable in the live files, so the keys live here, apart from
-- the wide rows of sealed fields, split by subject id into 16 partitions: after a destruction the
-- writer rewrites the partition that held the key (VACUUM FULL, a few megabytes at a million
-- subjects), and the file with the dead tuple is deleted.
CREATE TABLE subject_keys (
    subject_id     UUID PRIMARY KEY,
    dek            BYTEA NOT NULL,
    kek_version    INTEGER NOT NULL,
    dek_generation INTEGER NOT NULL
) PARTITION BY HASH (subject_id);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE subject_keys_%s PARTITION OF subject_keys FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            i, i);
    END LOOP;
END $$;

INSERT INTO subject_keys (subject_id, dek, kek_version, dek_generation)
    SELECT id, dek, kek_version, dek_generation FROM subjects;

ALTER TABLE subjects DROP COLUMN dek, DROP COLUMN kek_version, DROP COLUMN dek_generation;
-- Dropping columns leaves their bytes in the rows, and earlier destructions left dead rows:
-- rewriting the table (a no-op change of type forces it) leaves neither.
ALTER TABLE subjects ALTER COLUMN category TYPE TEXT USING category || '';
