-- Erasure pseudonymises the consent ledger: the erased resident's events keep what was consented
-- and provided under which notice (the provision record APPI Art. 29/30 keeps), but their
-- subject_id and resident actor are rewritten to a random value nothing else holds, so the rows no
-- longer lead back to the person. The ledger stays append-only for everything else: an UPDATE may
-- set only those two columns (the trigger applies it itself), and DELETE is refused as before.
DROP TRIGGER consent_events_append_only;
GO

CREATE TRIGGER consent_events_append_only ON consent_events INSTEAD OF UPDATE, DELETE
AS
BEGIN
    SET NOCOUNT ON;
    IF (EXISTS (SELECT 1 FROM deleted) AND NOT EXISTS (SELECT 1 FROM inserted))
        OR UPDATE(consent_id) OR UPDATE(offer_id) OR UPDATE(event_type) OR UPDATE(notice_version)
        OR UPDATE(occurred_at) OR UPDATE(items) OR UPDATE(explicit_items) OR UPDATE(expires_at)
        THROW 51000, 'consent_events is append-only', 1;
    UPDATE e SET subject_id = i.subject_id, actor = i.actor
    FROM consent_events e JOIN inserted i ON i.sequence = e.sequence;
END;
GO
