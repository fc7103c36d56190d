-- The DataProtection key ring (antiforgery, cookies, and the key-encryption key that wraps
-- residents' data keys) lives in the database so every node of a deployment shares it.
CREATE TABLE dataprotection_keys (
    friendly_name TEXT NOT NULL PRIMARY KEY,
    xml           TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
