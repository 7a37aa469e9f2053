-- derbes schema v14 (PostgreSQL): person accounts for the console, and their sign-in sessions
-- (kept by the digest of the cookie).
CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    purposes TEXT NOT NULL,
    lang TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    totp_required BOOLEAN NOT NULL,
    totp_secret BYTEA,
    totp_last_step BIGINT,
    failed_sign_ins INTEGER NOT NULL,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    version BIGINT NOT NULL
);
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id),
    stage TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    pending_totp BYTEA
);
CREATE INDEX sessions_account ON sessions (account_id);
