-- Custody: enrolled residents, their data keys (wrapped by the DataProtection key-encryption key),
-- the data sources each resident linked, the sealed records, and erasures.

-- One row per account that ever enrolled. After erasure the row stays as the minimal proof that the
-- erasure happened (status, times); last_key_version keeps key versions unique across re-enrolment.
CREATE TABLE residents (
    account_id       TEXT NOT NULL PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('enrolled', 'erased')),
    terms_version    TEXT NOT NULL,
    terms_hash       TEXT NOT NULL,
    enrolled_at      TEXT NOT NULL,
    erased_at        TEXT NULL,
    last_key_version INTEGER NOT NULL DEFAULT 0
);

-- Data keys (DEKs). Deleting a row is crypto-shredding: records sealed under it become unreadable.
CREATE TABLE resident_keys (
    resident_id TEXT NOT NULL REFERENCES residents (account_id),
    version     INTEGER NOT NULL,
    wrapped_key BLOB NOT NULL,
    kek_id      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT NULL,
    PRIMARY KEY (resident_id, version)
);
CREATE INDEX ix_resident_keys_kek ON resident_keys (kek_id);

-- A data source a resident authorised, the categories it may deposit, and the pseudonymous
-- reference the source uses to name the resident in deposits.
CREATE TABLE source_links (
    resident_id  TEXT NOT NULL REFERENCES residents (account_id),
    client_id    TEXT NOT NULL,
    resident_ref TEXT NOT NULL,
    categories   TEXT NOT NULL,
    linked_at    TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (resident_id, client_id)
);
CREATE UNIQUE INDEX ux_source_links_ref ON source_links (client_id, resident_ref);

-- Sealed records. No foreign key to residents: after erasure the rows are unreadable at once and
-- are swept later by a background job.
CREATE TABLE custody_records (
    id               TEXT NOT NULL PRIMARY KEY,
    resident_id      TEXT NOT NULL,
    category         TEXT NOT NULL,
    observed_at      TEXT NOT NULL,
    stored_at        TEXT NOT NULL,
    source_client_id TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    key_version      INTEGER NOT NULL,
    ciphertext       BLOB NOT NULL
);
CREATE UNIQUE INDEX ux_custody_records_source ON custody_records (source_client_id, source_record_id);
CREATE INDEX ix_custody_records_resident ON custody_records (resident_id, observed_at, id);

CREATE TABLE resident_erasures (
    id                TEXT NOT NULL PRIMARY KEY,
    resident_id       TEXT NOT NULL,
    erased_at         TEXT NOT NULL,
    up_to_key_version INTEGER NOT NULL,
    records_swept     INTEGER NOT NULL DEFAULT 0,
    swept_at          TEXT NULL
);
CREATE INDEX ix_resident_erasures_pending ON resident_erasures (swept_at);
