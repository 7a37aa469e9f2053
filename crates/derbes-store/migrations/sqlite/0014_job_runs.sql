-- derbes schema v14 (SQLite): the last run of each periodic job, for `derbes jobs` and
-- GET /api/v1/jobs. Bookkeeping of derbes itself, outside the audit chain.
CREATE TABLE job_runs (
    name TEXT PRIMARY KEY,
    every_seconds INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'idle', 'skipped', 'failed')),
    detail TEXT NOT NULL,
    next_run_at TEXT NOT NULL,
    runs INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
