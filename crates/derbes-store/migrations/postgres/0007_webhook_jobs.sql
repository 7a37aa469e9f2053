-- derbes schema v7 (PostgreSQL): the outbox of webhook connectors. One job per request, webhook
-- and event; `payload` (the subject's identifiers) is sealed under the request's key and cleared
-- once the operator's system confirms.
CREATE TABLE webhook_jobs (
    id              UUID PRIMARY KEY,
    request_id      UUID NOT NULL,
    subject_id      UUID NOT NULL,
    webhook         TEXT NOT NULL,
    event           TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    payload         BYTEA,
    last_error      TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX webhook_jobs_due ON webhook_jobs (status, next_attempt_at);
CREATE INDEX webhook_jobs_of_request ON webhook_jobs (request_id);
