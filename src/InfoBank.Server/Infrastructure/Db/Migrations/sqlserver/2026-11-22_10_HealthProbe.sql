-- Readiness: /health/ready commits a write to this one row, so a database that still answers
-- queries but can no longer take a change (disk or log full, read-only database, I/O errors) is
-- reported as not ready instead of healthy.
CREATE TABLE health_probe (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    probed_at DATETIMEOFFSET NOT NULL,
    probes    BIGINT NOT NULL DEFAULT 0
);

INSERT INTO health_probe (id, probed_at, probes) VALUES (1, SYSDATETIMEOFFSET(), 0);
