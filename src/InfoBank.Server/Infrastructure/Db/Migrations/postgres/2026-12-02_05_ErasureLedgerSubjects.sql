-- Erasure pseudonymises the consent ledger: the erased resident's events keep what was consented
-- and provided under which notice (the provision record APPI Art. 29/30 keeps), but their
-- subject_id and resident actor are rewritten to a random value nothing else holds, so the rows no
-- longer lead back to the person. The ledger stays append-only for everything else: an UPDATE may
-- change only those two columns; DELETE and TRUNCATE are refused as before.
CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (NEW.sequence, NEW.consent_id, NEW.offer_id, NEW.event_type, NEW.notice_version, NEW.occurred_at,
             NEW.items, NEW.explicit_items, NEW.expires_at)
        IS NOT DISTINCT FROM
            (OLD.sequence, OLD.consent_id, OLD.offer_id, OLD.event_type, OLD.notice_version, OLD.occurred_at,
             OLD.items, OLD.explicit_items, OLD.expires_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only';
END;
$$;
