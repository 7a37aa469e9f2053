-- derbes schema v9 (SQLite): the consent ledger by purpose, for counting the subjects a policy
-- change touches (/policy/changes) without reading the whole ledger.
CREATE INDEX consent_events_by_purpose ON consent_events (purpose, subject_id);
