-- Custody records keyed for the deposit path. Every query of custody_records names the resident
-- (listing, export, rotation, sweep, and the single-row reads and updates, which carry the row's
-- (resident_id, observed_at, id)), so the separate unique index on id alone served no query but
-- cost a B-tree insert per deposited record. The table becomes a plain rowid table (seq, in
-- insertion order) with two indexes: the resident's keyset order, and the idempotency key.
-- Record ids stay unique in practice (version-7 ids: milliseconds plus 74 random bits).
CREATE TABLE custody_records_v8 (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    resident_id      TEXT NOT NULL,
    category         TEXT NOT NULL,
    observed_at      TEXT NOT NULL,
    stored_at        TEXT NOT NULL,
    source_client_id TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    key_version      INTEGER NOT NULL,
    ciphertext       BLOB NOT NULL
);
INSERT INTO custody_records_v8 (id, resident_id, category, observed_at, stored_at, source_client_id, source_record_id, key_version, ciphertext)
SELECT id, resident_id, category, observed_at, stored_at, source_client_id, source_record_id, key_version, ciphertext
FROM custody_records ORDER BY stored_at, id;
DROP TABLE custody_records;
ALTER TABLE custody_records_v8 RENAME TO custody_records;
CREATE UNIQUE INDEX ux_custody_records_source ON custody_records (source_client_id, source_record_id);
CREATE UNIQUE INDEX ux_custody_records_resident ON custody_records (resident_id, observed_at, id);
