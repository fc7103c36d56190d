-- The audit log: one append-only Merkle log (RFC 9162) of consents, decisions, accesses,
-- committee actions, key events and sign-ins. seq is the leaf index; leaf_hash is
-- SHA-256(0x00 ‖ canonical entry bytes), recomputable from the other columns.
CREATE TABLE audit_log (
    seq         INTEGER NOT NULL PRIMARY KEY,
    time        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    subject_ref TEXT    NULL,
    purpose     TEXT    NULL,
    grant_id    TEXT    NULL,
    policy_hash TEXT    NULL,
    payload     TEXT    NULL,
    sealed      BLOB    NULL,
    leaf_hash   BLOB    NOT NULL
);
CREATE INDEX ix_audit_log_subject ON audit_log (subject_ref, seq);

-- Interior perfect subtrees (level >= 1): hash of leaves [idx * 2^level, (idx + 1) * 2^level).
-- Written as appends complete them, so a proof needs O(log^2 n) lookups, never a scan.
CREATE TABLE audit_tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The compact right-edge frontier, updated in the same transaction as each batch of appends.
CREATE TABLE audit_frontier (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL,
    last_time TEXT    NULL,
    hashes    BLOB    NOT NULL
);
INSERT INTO audit_frontier (id, tree_size, last_time, hashes) VALUES (1, 0, NULL, X'');

-- Signed checkpoints (C2SP tlog-checkpoint signed notes), one per tree size.
CREATE TABLE audit_checkpoints (
    tree_size  INTEGER NOT NULL PRIMARY KEY,
    root_hash  BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    key_name   TEXT    NOT NULL,
    note       TEXT    NOT NULL
);

-- A deterrent, not the proof (the hashes and signatures are): the log refuses rewrites.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TRIGGER audit_tree_nodes_no_update BEFORE UPDATE ON audit_tree_nodes
BEGIN SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_tree_nodes_no_delete BEFORE DELETE ON audit_tree_nodes
BEGIN SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: DELETE refused'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused'); END;
CREATE TRIGGER audit_frontier_no_delete BEFORE DELETE ON audit_frontier
BEGIN SELECT RAISE(ABORT, 'audit_frontier cannot be deleted'); END;
