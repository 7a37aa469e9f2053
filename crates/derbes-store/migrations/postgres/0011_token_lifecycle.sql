-- derbes schema v11 (PostgreSQL): tokens get an id to be listed and revoked by (the digest stays
-- the key they are checked by), an expiry, and when they were last used.
ALTER TABLE tokens ADD COLUMN id UUID, ADD COLUMN expires_at TEXT, ADD COLUMN last_used_at TEXT;
UPDATE tokens SET id = gen_random_uuid();
ALTER TABLE tokens ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX tokens_id ON tokens (id);
