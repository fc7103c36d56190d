-- Custody: enrolled residents, their data keys (wrapped by the DataProtection key-encryption key),
-- the data sources each resident linked, the sealed records, and erasures.

CREATE TABLE residents (
    account_id       UUID NOT NULL PRIMARY KEY,
    status           TEXT NOT NULL CHECK (status IN ('enrolled', 'erased')),
    terms_version    TEXT NOT NULL,
    terms_hash       TEXT NOT NULL,
    enrolled_at      TIMESTAMPTZ NOT NULL,
    erased_at        TIMESTAMPTZ NULL,
    last_key_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE resident_keys (
    resident_id UUID NOT NULL REFERENCES residents (account_id),
    version     INTEGER NOT NULL,
    wrapped_key BYTEA NOT NULL,
    kek_id      UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ NULL,
    PRIMARY KEY (resident_id, version)
);
CREATE INDEX ix_resident_keys_kek ON resident_keys (kek_id);

CREATE TABLE source_links (
    resident_id  UUID NOT NULL REFERENCES residents (account_id),
    client_id    TEXT NOT NULL,
    resident_ref TEXT NOT NULL,
    categories   TEXT NOT NULL,
    linked_at    TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (resident_id, client_id)
);
CREATE UNIQUE INDEX ux_source_links_ref ON source_links (client_id, resident_ref);

CREATE TABLE custody_records (
    id               UUID NOT NULL PRIMARY KEY,
    resident_id      UUID NOT NULL,
    category         TEXT NOT NULL,
    observed_at      TIMESTAMPTZ NOT NULL,
    stored_at        TIMESTAMPTZ NOT NULL,
    source_client_id TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    key_version      INTEGER NOT NULL,
    ciphertext       BYTEA NOT NULL
);
CREATE UNIQUE INDEX ux_custody_records_source ON custody_records (source_client_id, source_record_id);
CREATE INDEX ix_custody_records_resident ON custody_records (resident_id, observed_at, id);

CREATE TABLE resident_erasures (
    id                UUID NOT NULL PRIMARY KEY,
    resident_id       UUID NOT NULL,
    erased_at         TIMESTAMPTZ NOT NULL,
    up_to_key_version INTEGER NOT NULL,
    records_swept     BIGINT NOT NULL DEFAULT 0,
    swept_at          TIMESTAMPTZ NULL
);
CREATE INDEX ix_resident_erasures_pending ON resident_erasures (swept_at);
