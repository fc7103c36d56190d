-- Access: the provision record of every brokered access (APPI Art. 29), one passbook line per
-- resident provided, the frozen aggregate release cells of each grant, and the committee's alerts.

-- One row per access attempt on a grant, served or refused, written before any data is returned.
CREATE TABLE access_log (
    id             UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    at             DATETIMEOFFSET NOT NULL,
    grant_id       UNIQUEIDENTIFIER NOT NULL,
    recipient      NVARCHAR(200) NOT NULL,
    kind           NVARCHAR(32) NOT NULL CHECK (kind IN ('records', 'aggregate', 'aggregate-release')),
    outcome        NVARCHAR(32) NOT NULL CHECK (outcome IN ('served', 'throttled', 'grant-inactive', 'refused')),
    fetch_id       UNIQUEIDENTIFIER NULL,
    fetch_start    BIT NOT NULL DEFAULT 0,
    items          INTEGER NOT NULL DEFAULT 0,
    residents      INTEGER NOT NULL DEFAULT 0,
    data_items     NVARCHAR(MAX) NOT NULL,
    purpose        NVARCHAR(200) NOT NULL,
    approval       NVARCHAR(400) NOT NULL,
    policy_hash    NVARCHAR(200) NOT NULL,
    reasons        NVARCHAR(MAX) NOT NULL,
    audit_sequence BIGINT NULL
);
CREATE INDEX ix_access_log_grant ON access_log (grant_id, at);
CREATE INDEX ix_access_log_recipient ON access_log (recipient, at);
CREATE INDEX ix_access_log_at ON access_log (at);

-- The resident's passbook: which access provided their data, how many records, and the points earned.
CREATE TABLE access_provisions (
    access_id   UNIQUEIDENTIFIER NOT NULL REFERENCES access_log (id),
    resident_id UNIQUEIDENTIFIER NOT NULL,
    at          DATETIMEOFFSET NOT NULL,
    records     INTEGER NOT NULL,
    points      INTEGER NOT NULL,
    PRIMARY KEY (access_id, resident_id)
);
CREATE INDEX ix_access_provisions_resident ON access_provisions (resident_id, at);

-- Which closed buckets of a grant have been released. A bucket is released once, never recomputed.
CREATE TABLE access_aggregate_releases (
    grant_id    UNIQUEIDENTIFIER NOT NULL,
    bucket      NVARCHAR(16) NOT NULL,
    released_at DATETIMEOFFSET NOT NULL,
    PRIMARY KEY (grant_id, bucket)
);

-- The frozen cells of a release, per approved category: key values, suppression, per-field summaries (binary).
CREATE TABLE access_aggregate_cells (
    grant_id   UNIQUEIDENTIFIER NOT NULL,
    bucket     NVARCHAR(16) NOT NULL,
    category   NVARCHAR(64) NOT NULL,
    cell_key   NVARCHAR(300) NOT NULL,
    suppressed BIT NOT NULL,
    residents  INTEGER NOT NULL,
    records    INTEGER NOT NULL,
    summaries  VARBINARY(MAX) NULL,
    PRIMARY KEY (grant_id, bucket, category, cell_key)
);

-- Alerts for the committee; the key (grant, kind, day) makes the recurring job idempotent.
CREATE TABLE access_alerts (
    alert_key   NVARCHAR(200) NOT NULL PRIMARY KEY,
    grant_id    UNIQUEIDENTIFIER NOT NULL,
    kind        NVARCHAR(32) NOT NULL,
    detected_at DATETIMEOFFSET NOT NULL,
    message     NVARCHAR(1000) NOT NULL
);
CREATE INDEX ix_access_alerts_detected ON access_alerts (detected_at);
