-- Custody records keyed for the deposit path. Every query of custody_records names the resident
-- (listing, export, rotation, sweep, and the single-row reads and updates, which carry the row's
-- (resident_id, observed_at, id)), so the primary key on id alone served no query but cost a
-- B-tree insert per deposited record. The resident's keyset index becomes the primary key.
-- Record ids stay unique in practice (version-7 ids: milliseconds plus 74 random bits).
ALTER TABLE custody_records DROP CONSTRAINT custody_records_pkey;
DROP INDEX ix_custody_records_resident;
ALTER TABLE custody_records ADD CONSTRAINT pk_custody_records PRIMARY KEY (resident_id, observed_at, id);
