-- Consent events are now audited in the transaction that records them, so the outbox that carried
-- events to a later audit append is gone. It must be empty: an event still in it was never audited.
-- (Run the previous version's consent-expiry job once before upgrading if this check fails.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM consent_audit_outbox) THEN
        RAISE EXCEPTION 'consent_audit_outbox still holds unaudited consent events: run the previous version''s consent-expiry job once, then upgrade';
    END IF;
END
$$;
DROP TABLE consent_audit_outbox;
