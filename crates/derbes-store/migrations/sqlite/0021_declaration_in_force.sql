-- derbes schema v21 (SQLite): the declaration version derbes last ran under. When a process
-- starts under another one (a new version, or an older one put back), every month of majority
-- is worked out again: the age of majority, or where birth dates come from, may differ.
CREATE TABLE declaration_in_force (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL
);
INSERT INTO declaration_in_force (id, version)
    SELECT 1, version FROM declarations ORDER BY recorded_at DESC, version DESC LIMIT 1;
