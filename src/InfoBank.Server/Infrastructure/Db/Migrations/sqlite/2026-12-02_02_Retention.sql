-- Retention enforced on stored data (pia/inventory.yaml, retentionDays per category). Reads already
-- leave out records past their category's cut-off; the retention job deletes them. Its batches
-- walk this index (category, then observation time) instead of scanning every resident's rows.
-- One row per category a run deletes from: the cut-off the run's audit entry announced, and
-- progress, so a run cut short by a crash is finished under the same cut-off and audit entry
-- (each deletion is audited exactly once) rather than announced again.
CREATE INDEX ix_custody_records_expiry ON custody_records (category, observed_at);
CREATE TABLE custody_retention_runs (
    run_id      TEXT NOT NULL,
    category    TEXT NOT NULL,
    kept_from   TEXT NOT NULL,
    expired     INTEGER NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    finished_at TEXT NULL,
    PRIMARY KEY (run_id, category)
);
