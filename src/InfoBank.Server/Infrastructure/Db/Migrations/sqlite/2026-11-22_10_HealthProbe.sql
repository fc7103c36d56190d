-- Readiness: /health/ready commits a write to this one row, so a database that still answers
-- queries but can no longer take a change (disk full, read-only file or mount, I/O errors) is
-- reported as not ready instead of healthy.
CREATE TABLE health_probe (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    probed_at TEXT NOT NULL,
    probes    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO health_probe (id, probed_at, probes) VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0);
