-- derbes schema v12 (SQLite): tokens get an id to be listed and revoked by (the digest stays the
-- key they are checked by), an expiry, and when they were last used.
ALTER TABLE tokens ADD COLUMN id TEXT;
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
UPDATE tokens SET id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
    || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-'
    || hex(randomblob(6)));
CREATE UNIQUE INDEX tokens_id ON tokens (id);
