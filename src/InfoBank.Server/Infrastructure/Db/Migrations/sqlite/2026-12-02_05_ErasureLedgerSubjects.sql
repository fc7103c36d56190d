-- Erasure pseudonymises the consent ledger: the erased resident's events keep what was consented
-- and provided under which notice (the provision record APPI Art. 29/30 keeps), but their
-- subject_id and resident actor are rewritten to a random value nothing else holds, so the rows no
-- longer lead back to the person. The ledger stays append-only for everything else: an UPDATE may
-- change only those two columns, and DELETE is refused as before.
DROP TRIGGER consent_events_no_update;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
WHEN NEW.sequence IS NOT OLD.sequence OR NEW.consent_id IS NOT OLD.consent_id OR NEW.offer_id IS NOT OLD.offer_id
    OR NEW.event_type IS NOT OLD.event_type OR NEW.notice_version IS NOT OLD.notice_version
    OR NEW.occurred_at IS NOT OLD.occurred_at OR NEW.items IS NOT OLD.items
    OR NEW.explicit_items IS NOT OLD.explicit_items OR NEW.expires_at IS NOT OLD.expires_at
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END;
