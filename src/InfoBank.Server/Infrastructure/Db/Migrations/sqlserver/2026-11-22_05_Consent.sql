-- Offers: the approved uses of data residents can opt into, one per committee grant. The row holds
-- the current notice version; every version's full notice is kept in offer_notices so receipts
-- and "what changed" can cite older ones.
CREATE TABLE offers (
    offer_id            UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    grant_id            UNIQUEIDENTIFIER NOT NULL UNIQUE,
    status              NVARCHAR(20) NOT NULL CHECK (status IN (N'Active', N'Suspended', N'Revoked')),
    notice_version      INT NOT NULL,
    notice_hash         NVARCHAR(100) NOT NULL,
    recipient_client_id NVARCHAR(200) NOT NULL,
    purpose_code        NVARCHAR(100) NOT NULL,
    valid_until         DATETIMEOFFSET NOT NULL,
    created_at          DATETIMEOFFSET NOT NULL,
    updated_at          DATETIMEOFFSET NOT NULL
);
CREATE INDEX ix_offers_recipient_purpose ON offers (recipient_client_id, purpose_code);

CREATE TABLE offer_notices (
    offer_id       UNIQUEIDENTIFIER NOT NULL REFERENCES offers (offer_id),
    notice_version INT NOT NULL,
    notice_hash    NVARCHAR(100) NOT NULL,
    notice_json    NVARCHAR(MAX) NOT NULL,
    published_at   DATETIMEOFFSET NOT NULL,
    PRIMARY KEY (offer_id, notice_version)
);

-- The consent ledger: append-only events per (resident, offer). Items are JSON arrays of
-- category names. The trigger is a deterrent against casual edits; the evidence is the audit log.
CREATE TABLE consent_events (
    sequence       BIGINT IDENTITY(1, 1) NOT NULL PRIMARY KEY,
    consent_id     UNIQUEIDENTIFIER NOT NULL,
    subject_id     UNIQUEIDENTIFIER NOT NULL,
    offer_id       UNIQUEIDENTIFIER NOT NULL REFERENCES offers (offer_id),
    event_type     NVARCHAR(40) NOT NULL,
    notice_version INT NOT NULL,
    occurred_at    DATETIMEOFFSET NOT NULL,
    actor          NVARCHAR(200) NOT NULL,
    items          NVARCHAR(MAX) NOT NULL,
    explicit_items NVARCHAR(MAX) NOT NULL,
    expires_at     DATETIMEOFFSET NULL
);
CREATE INDEX ix_consent_events_consent ON consent_events (consent_id, sequence);
CREATE INDEX ix_consent_events_subject ON consent_events (subject_id, offer_id, sequence);
GO

CREATE TRIGGER consent_events_append_only ON consent_events INSTEAD OF UPDATE, DELETE
AS
BEGIN
    THROW 51000, 'consent_events is append-only', 1;
END;
GO

-- Events waiting for their audit entry (a transactional outbox), and the audit sequence of each
-- event once appended, which receipts cite.
CREATE TABLE consent_audit_outbox (
    event_sequence BIGINT NOT NULL PRIMARY KEY REFERENCES consent_events (sequence)
);
CREATE TABLE consent_event_audit (
    event_sequence BIGINT NOT NULL PRIMARY KEY REFERENCES consent_events (sequence),
    audit_sequence BIGINT NOT NULL
);

-- The current state of each consent: a projection of consent_events, rebuilt from them in tests.
CREATE TABLE consents (
    consent_id     UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    subject_id     UNIQUEIDENTIFIER NOT NULL,
    offer_id       UNIQUEIDENTIFIER NOT NULL REFERENCES offers (offer_id),
    notice_version INT NOT NULL,
    state          NVARCHAR(40) NOT NULL,
    items          NVARCHAR(MAX) NOT NULL,
    explicit_items NVARCHAR(MAX) NOT NULL,
    given_at       DATETIMEOFFSET NOT NULL,
    expires_at     DATETIMEOFFSET NOT NULL,
    ended_at       DATETIMEOFFSET NULL,
    last_sequence  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_consents_active ON consents (subject_id, offer_id) WHERE state = N'ConsentGiven';
CREATE INDEX ix_consents_subject ON consents (subject_id, offer_id);
CREATE INDEX ix_consents_offer_active ON consents (offer_id) WHERE state = N'ConsentGiven';
CREATE INDEX ix_consents_expiry ON consents (expires_at) WHERE state = N'ConsentGiven';
