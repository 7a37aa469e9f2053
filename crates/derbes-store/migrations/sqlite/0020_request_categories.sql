-- derbes schema v20 (SQLite): each request keeps the category of its subject, so that a staff
-- member's queue (the requests about subjects their purposes reach) is selected by the
-- database and pages through all of them, not only through the first rows read. The category
-- comes from the subject, or from the record of its destruction.
ALTER TABLE requests ADD COLUMN category TEXT NOT NULL DEFAULT '';
UPDATE requests SET category = (SELECT s.category FROM subjects s WHERE s.id = requests.subject_id)
    WHERE EXISTS (SELECT 1 FROM subjects s WHERE s.id = requests.subject_id);
UPDATE requests SET category = (SELECT json_extract(d.record, '$.category') FROM destructions d
        WHERE d.subject_id = requests.subject_id)
    WHERE category = ''
      AND EXISTS (SELECT 1 FROM destructions d WHERE d.subject_id = requests.subject_id);
