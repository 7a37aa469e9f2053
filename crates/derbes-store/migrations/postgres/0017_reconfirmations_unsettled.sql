-- derbes schema v17 (PostgreSQL): the subjects whose months of majority derbes is to work out
-- again from their consent ledgers and sealed birth dates (the `majority-reconfirmations` job):
-- every subject with consents recorded before derbes kept those months, and, from now on, each
-- subject with consents whose fields are corrected (the birth date may have changed).
CREATE TABLE reconfirmations_unsettled (
    subject_id UUID PRIMARY KEY
);
INSERT INTO reconfirmations_unsettled (subject_id) SELECT DISTINCT subject_id FROM consent_events;
