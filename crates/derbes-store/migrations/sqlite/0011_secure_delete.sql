-- derbes schema v11 (SQLite): from this version on, the writer overwrites deleted content with
-- zeros (PRAGMA secure_delete) and cuts the WAL after each destruction. Space freed by earlier
-- destructions may still hold their data: the store vacuums the database once after this
-- migration (a step outside any transaction, run by the code that applies it).
SELECT 1;
