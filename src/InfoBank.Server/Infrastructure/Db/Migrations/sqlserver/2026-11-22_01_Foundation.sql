-- The DataProtection key ring (antiforgery, cookies, and the key-encryption key that wraps
-- residents' data keys) lives in the database so every node of a deployment shares it.
CREATE TABLE dataprotection_keys (
    friendly_name NVARCHAR(200) NOT NULL PRIMARY KEY,
    xml           NVARCHAR(MAX) NOT NULL,
    created_at    DATETIMEOFFSET NOT NULL
);
