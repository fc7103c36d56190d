-- The audit log names a resident only by a random pseudonym (the subject of their entries, the
-- actor of what they did, the residents an access provided). This table is the only link from a
-- pseudonym back to the person; erasure deletes the row, and the log stays verifiable but names
-- no one. Kept for every account that appears in the log, enrolled or not (sign-ins), so no
-- foreign key to residents.
CREATE TABLE resident_audit_pseudonyms (
    resident_id TEXT NOT NULL PRIMARY KEY,
    pseudonym   TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
