-- Consent events are now audited in the transaction that records them, so the outbox that carried
-- events to a later audit append is gone. It must be empty: an event still in it was never audited.
-- (Run the previous version's consent-expiry job once before upgrading if this check fails.)
CREATE TEMP TABLE consent_outbox_guard (
    pending INTEGER NOT NULL CONSTRAINT consent_audit_outbox_must_be_empty_before_upgrade CHECK (pending = 0)
);
INSERT INTO consent_outbox_guard (pending) SELECT COUNT(*) FROM consent_audit_outbox;
DROP TABLE consent_outbox_guard;
DROP TABLE consent_audit_outbox;
