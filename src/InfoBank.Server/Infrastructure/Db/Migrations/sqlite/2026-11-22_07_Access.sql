-- Access: the provision record of every brokered access (APPI Art. 29), one passbook line per
-- resident provided, the frozen aggregate release cells of each grant, and the committee's alerts.

-- One row per access attempt on a grant, served or refused, written before any data is returned.
CREATE TABLE access_log (
    id             TEXT NOT NULL PRIMARY KEY,
    at             TEXT NOT NULL,
    grant_id       TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('records', 'aggregate', 'aggregate-release')),
    outcome        TEXT NOT NULL CHECK (outcome IN ('served', 'throttled', 'grant-inactive', 'refused')),
    fetch_id       TEXT NULL,
    fetch_start    INTEGER NOT NULL DEFAULT 0,
    items          INTEGER NOT NULL DEFAULT 0,
    residents      INTEGER NOT NULL DEFAULT 0,
    data_items     TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    approval       TEXT NOT NULL,
    policy_hash    TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    audit_sequence INTEGER NULL
);
CREATE INDEX ix_access_log_grant ON access_log (grant_id, at);
CREATE INDEX ix_access_log_recipient ON access_log (recipient, at);
CREATE INDEX ix_access_log_at ON access_log (at);

-- The resident's passbook: which access provided their data, how many records, and the points earned.
CREATE TABLE access_provisions (
    access_id   TEXT NOT NULL REFERENCES access_log (id),
    resident_id TEXT NOT NULL,
    at          TEXT NOT NULL,
    records     INTEGER NOT NULL,
    points      INTEGER NOT NULL,
    PRIMARY KEY (access_id, resident_id)
);
CREATE INDEX ix_access_provisions_resident ON access_provisions (resident_id, at);

-- Which closed buckets of a grant have been released. A bucket is released once, never recomputed.
CREATE TABLE access_aggregate_releases (
    grant_id    TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    released_at TEXT NOT NULL,
    PRIMARY KEY (grant_id, bucket)
);

-- The frozen cells of a release, per approved category: key values, suppression, per-field summaries (binary).
CREATE TABLE access_aggregate_cells (
    grant_id   TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    category   TEXT NOT NULL,
    cell_key   TEXT NOT NULL,
    suppressed INTEGER NOT NULL,
    residents  INTEGER NOT NULL,
    records    INTEGER NOT NULL,
    summaries  BLOB NULL,
    PRIMARY KEY (grant_id, bucket, category, cell_key)
);

-- Alerts for the committee; the key (grant, kind, day) makes the recurring job idempotent.
CREATE TABLE access_alerts (
    alert_key   TEXT NOT NULL PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX ix_access_alerts_detected ON access_alerts (detected_at);
