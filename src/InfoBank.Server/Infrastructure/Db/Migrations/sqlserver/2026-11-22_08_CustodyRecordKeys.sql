-- Custody records keyed for the deposit path. Every query of custody_records names the resident
-- (listing, export, rotation, sweep, and the single-row reads and updates, which carry the row's
-- (resident_id, observed_at, id)), so the nonclustered primary key on id alone served no query but
-- cost a B-tree insert per deposited record. The clustered resident index becomes the primary key.
-- Record ids stay unique in practice (version-7 ids: milliseconds plus 74 random bits).
DECLARE @pk sysname = (
    SELECT name FROM sys.key_constraints
    WHERE parent_object_id = OBJECT_ID(N'custody_records') AND type = 'PK');
DECLARE @drop nvarchar(400) = N'ALTER TABLE custody_records DROP CONSTRAINT ' + QUOTENAME(@pk);
EXEC sp_executesql @drop;
DROP INDEX ix_custody_records_resident ON custody_records;
ALTER TABLE custody_records ADD CONSTRAINT pk_custody_records PRIMARY KEY CLUSTERED (resident_id, observed_at, id);
