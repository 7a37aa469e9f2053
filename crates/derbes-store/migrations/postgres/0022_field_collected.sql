-- derbes schema v22 (PostgreSQL): the day each field whose value was collected after its
-- subject was (a JSON object of `YYYY-MM-DD` days by field key; NULL when every field dates
-- from the subject's creation). Retention counted from collection starts there.
ALTER TABLE subjects ADD COLUMN field_collected TEXT;
