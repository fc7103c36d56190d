-- Access: fetch limits checked and recorded atomically per grant, across API nodes sharing the database.
-- A new fetch first locks its grant's gate row (an UPDATE: the row lock on PostgreSQL and SQL Server,
-- the write lock on SQLite), then counts the fetches started in the approved period and records its own
-- start before the lock is released; a page reserves its share of the fetch's volume the same way.

CREATE TABLE access_grant_gates (
    grant_id UUID NOT NULL PRIMARY KEY,
    claims   BIGINT NOT NULL DEFAULT 0
);

-- One row per fetch (a pass through the pages, or one aggregate query): when it started, and how many
-- records it has served or reserved for a page in progress.
CREATE TABLE access_fetches (
    fetch_id   UUID NOT NULL PRIMARY KEY,
    grant_id   UUID NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('records', 'aggregate')),
    started_at TIMESTAMPTZ NOT NULL,
    served     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_access_fetches_grant ON access_fetches (grant_id, kind, started_at);

-- Points accrue once per fetch: each page looks up who was already rewarded in its fetch.
CREATE INDEX ix_access_log_fetch ON access_log (fetch_id);

-- Fetches already made count against the limits from the first request after the upgrade.
INSERT INTO access_fetches (fetch_id, grant_id, kind, started_at, served)
SELECT fetch_id, grant_id, kind, MIN(at), SUM(items)
FROM access_log
WHERE outcome = 'served' AND fetch_id IS NOT NULL AND kind IN ('records', 'aggregate')
GROUP BY fetch_id, grant_id, kind
HAVING bool_or(fetch_start);
