-- Custody: enrolled residents, their data keys (wrapped by the DataProtection key-encryption key),
-- the data sources each resident linked, the sealed records, and erasures.

CREATE TABLE residents (
    account_id       UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    status           NVARCHAR(16) NOT NULL CHECK (status IN ('enrolled', 'erased')),
    terms_version    NVARCHAR(64) NOT NULL,
    terms_hash       NVARCHAR(100) NOT NULL,
    enrolled_at      DATETIMEOFFSET NOT NULL,
    erased_at        DATETIMEOFFSET NULL,
    last_key_version INT NOT NULL DEFAULT 0
);

CREATE TABLE resident_keys (
    resident_id UNIQUEIDENTIFIER NOT NULL REFERENCES residents (account_id),
    version     INT NOT NULL,
    wrapped_key VARBINARY(MAX) NOT NULL,
    kek_id      UNIQUEIDENTIFIER NOT NULL,
    created_at  DATETIMEOFFSET NOT NULL,
    retired_at  DATETIMEOFFSET NULL,
    PRIMARY KEY (resident_id, version)
);
CREATE INDEX ix_resident_keys_kek ON resident_keys (kek_id);

CREATE TABLE source_links (
    resident_id  UNIQUEIDENTIFIER NOT NULL REFERENCES residents (account_id),
    client_id    NVARCHAR(200) NOT NULL,
    resident_ref NVARCHAR(64) NOT NULL,
    categories   NVARCHAR(1000) NOT NULL,
    linked_at    DATETIMEOFFSET NOT NULL,
    updated_at   DATETIMEOFFSET NOT NULL,
    PRIMARY KEY (resident_id, client_id)
);
CREATE UNIQUE INDEX ux_source_links_ref ON source_links (client_id, resident_ref);

CREATE TABLE custody_records (
    id               UNIQUEIDENTIFIER NOT NULL PRIMARY KEY NONCLUSTERED,
    resident_id      UNIQUEIDENTIFIER NOT NULL,
    category         NVARCHAR(64) NOT NULL,
    observed_at      DATETIMEOFFSET NOT NULL,
    stored_at        DATETIMEOFFSET NOT NULL,
    source_client_id NVARCHAR(200) NOT NULL,
    source_record_id NVARCHAR(128) NOT NULL,
    key_version      INT NOT NULL,
    ciphertext       VARBINARY(MAX) NOT NULL
);
CREATE UNIQUE INDEX ux_custody_records_source ON custody_records (source_client_id, source_record_id);
-- Clustered by resident so a resident's records (listing, export, sweep) are contiguous.
CREATE CLUSTERED INDEX ix_custody_records_resident ON custody_records (resident_id, observed_at, id);

CREATE TABLE resident_erasures (
    id                UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    resident_id       UNIQUEIDENTIFIER NOT NULL,
    erased_at         DATETIMEOFFSET NOT NULL,
    up_to_key_version INT NOT NULL,
    records_swept     BIGINT NOT NULL DEFAULT 0,
    swept_at          DATETIMEOFFSET NULL
);
CREATE INDEX ix_resident_erasures_pending ON resident_erasures (swept_at);
