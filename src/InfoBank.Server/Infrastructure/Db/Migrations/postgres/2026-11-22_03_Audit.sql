-- The audit log: one append-only Merkle log (RFC 9162) of consents, decisions, accesses,
-- committee actions, key events and sign-ins. seq is the leaf index; leaf_hash is
-- SHA-256(0x00 || canonical entry bytes), recomputable from the other columns.
CREATE TABLE audit_log (
    seq         BIGINT       NOT NULL PRIMARY KEY,
    time        TIMESTAMPTZ  NOT NULL,
    kind        VARCHAR(64)  NOT NULL,
    actor       VARCHAR(200) NOT NULL,
    subject_ref VARCHAR(200) NULL,
    purpose     VARCHAR(200) NULL,
    grant_id    UUID         NULL,
    policy_hash VARCHAR(200) NULL,
    payload     TEXT         NULL,
    sealed      BYTEA        NULL,
    leaf_hash   BYTEA        NOT NULL
);
CREATE INDEX ix_audit_log_subject ON audit_log (subject_ref, seq);

-- Interior perfect subtrees (level >= 1): hash of leaves [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE audit_tree_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT  NOT NULL,
    hash  BYTEA   NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The compact right-edge frontier, updated in the same transaction as each batch of appends.
CREATE TABLE audit_frontier (
    id        INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT      NOT NULL,
    last_time TIMESTAMPTZ NULL,
    hashes    BYTEA       NOT NULL
);
INSERT INTO audit_frontier (id, tree_size, last_time, hashes) VALUES (1, 0, NULL, '\x'::bytea);

-- Signed checkpoints (C2SP tlog-checkpoint signed notes), one per tree size.
CREATE TABLE audit_checkpoints (
    tree_size  BIGINT       NOT NULL PRIMARY KEY,
    root_hash  BYTEA        NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL,
    key_name   VARCHAR(200) NOT NULL,
    note       TEXT         NOT NULL
);

-- A deterrent, not the proof (the hashes and signatures are): the log refuses rewrites.
-- Deployments should also REVOKE UPDATE, DELETE, TRUNCATE on these tables from the application role.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_tree_nodes_append_only BEFORE UPDATE OR DELETE ON audit_tree_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_tree_nodes_no_truncate BEFORE TRUNCATE ON audit_tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_frontier_no_delete BEFORE DELETE ON audit_frontier
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
