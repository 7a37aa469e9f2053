-- derbes schema v19 (PostgreSQL): each request keeps the category of its subject, so that a
-- staff member's queue (the requests about subjects their purposes reach) is selected by the
-- database and pages through all of them, not only through the first rows read. The category
-- comes from the subject, or from the record of its destruction.
ALTER TABLE requests ADD COLUMN category TEXT NOT NULL DEFAULT '';
UPDATE requests r SET category = s.category FROM subjects s WHERE s.id = r.subject_id;
UPDATE requests r SET category = d.record::jsonb ->> 'category' FROM destructions d
    WHERE d.subject_id = r.subject_id AND r.category = '';
