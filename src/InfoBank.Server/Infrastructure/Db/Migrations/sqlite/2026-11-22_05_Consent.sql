-- Offers: the approved uses of data residents can opt into, one per committee grant. The row holds
-- the current notice version; every version's full notice is kept in offer_notices so receipts
-- and "what changed" can cite older ones.
CREATE TABLE offers (
    offer_id            TEXT NOT NULL PRIMARY KEY,
    grant_id            TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('Active', 'Suspended', 'Revoked')),
    notice_version      INTEGER NOT NULL,
    notice_hash         TEXT NOT NULL,
    recipient_client_id TEXT NOT NULL,
    purpose_code        TEXT NOT NULL,
    valid_until         TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX ix_offers_recipient_purpose ON offers (recipient_client_id, purpose_code);

CREATE TABLE offer_notices (
    offer_id       TEXT NOT NULL REFERENCES offers (offer_id),
    notice_version INTEGER NOT NULL,
    notice_hash    TEXT NOT NULL,
    notice_json    TEXT NOT NULL,
    published_at   TEXT NOT NULL,
    PRIMARY KEY (offer_id, notice_version)
);

-- The consent ledger: append-only events per (resident, offer). Items are JSON arrays of
-- category names. The triggers are a deterrent against casual edits; the evidence is the audit log.
CREATE TABLE consent_events (
    sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
    consent_id     TEXT NOT NULL,
    subject_id     TEXT NOT NULL,
    offer_id       TEXT NOT NULL REFERENCES offers (offer_id),
    event_type     TEXT NOT NULL,
    notice_version INTEGER NOT NULL,
    occurred_at    TEXT NOT NULL,
    actor          TEXT NOT NULL,
    items          TEXT NOT NULL,
    explicit_items TEXT NOT NULL,
    expires_at     TEXT NULL
);
CREATE INDEX ix_consent_events_consent ON consent_events (consent_id, sequence);
CREATE INDEX ix_consent_events_subject ON consent_events (subject_id, offer_id, sequence);
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END;

-- Events waiting for their audit entry (a transactional outbox), and the audit sequence of each
-- event once appended, which receipts cite.
CREATE TABLE consent_audit_outbox (
    event_sequence INTEGER NOT NULL PRIMARY KEY REFERENCES consent_events (sequence)
);
CREATE TABLE consent_event_audit (
    event_sequence INTEGER NOT NULL PRIMARY KEY REFERENCES consent_events (sequence),
    audit_sequence INTEGER NOT NULL
);

-- The current state of each consent: a projection of consent_events, rebuilt from them in tests.
CREATE TABLE consents (
    consent_id     TEXT NOT NULL PRIMARY KEY,
    subject_id     TEXT NOT NULL,
    offer_id       TEXT NOT NULL REFERENCES offers (offer_id),
    notice_version INTEGER NOT NULL,
    state          TEXT NOT NULL,
    items          TEXT NOT NULL,
    explicit_items TEXT NOT NULL,
    given_at       TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    ended_at       TEXT NULL,
    last_sequence  INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_consents_active ON consents (subject_id, offer_id) WHERE state = 'ConsentGiven';
CREATE INDEX ix_consents_subject ON consents (subject_id, offer_id);
CREATE INDEX ix_consents_offer_active ON consents (offer_id) WHERE state = 'ConsentGiven';
CREATE INDEX ix_consents_expiry ON consents (expires_at) WHERE state = 'ConsentGiven';
