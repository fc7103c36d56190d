-- The audit log: one append-only Merkle log (RFC 9162) of consents, decisions, accesses,
-- committee actions, key events and sign-ins. seq is the leaf index; leaf_hash is
-- SHA-256(0x00 || canonical entry bytes), recomputable from the other columns.
CREATE TABLE audit_log (
    seq         BIGINT            NOT NULL PRIMARY KEY,
    time        DATETIMEOFFSET(7) NOT NULL,
    kind        NVARCHAR(64)      NOT NULL,
    actor       NVARCHAR(200)     NOT NULL,
    subject_ref NVARCHAR(200)     NULL,
    purpose     NVARCHAR(200)     NULL,
    grant_id    UNIQUEIDENTIFIER  NULL,
    policy_hash NVARCHAR(200)     NULL,
    payload     NVARCHAR(MAX)     NULL,
    sealed      VARBINARY(MAX)    NULL,
    leaf_hash   VARBINARY(32)     NOT NULL
);
CREATE INDEX ix_audit_log_subject ON audit_log (subject_ref, seq);

-- Interior perfect subtrees (level >= 1): hash of leaves [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE audit_tree_nodes (
    level INT           NOT NULL,
    idx   BIGINT        NOT NULL,
    hash  VARBINARY(32) NOT NULL,
    CONSTRAINT pk_audit_tree_nodes PRIMARY KEY (level, idx)
);

-- The compact right-edge frontier, updated in the same transaction as each batch of appends.
CREATE TABLE audit_frontier (
    id        INT               NOT NULL PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT            NOT NULL,
    last_time DATETIMEOFFSET(7) NULL,
    hashes    VARBINARY(MAX)    NOT NULL
);
INSERT INTO audit_frontier (id, tree_size, last_time, hashes) VALUES (1, 0, NULL, 0x);

-- Signed checkpoints (C2SP tlog-checkpoint signed notes), one per tree size.
CREATE TABLE audit_checkpoints (
    tree_size  BIGINT            NOT NULL PRIMARY KEY,
    root_hash  VARBINARY(32)     NOT NULL,
    created_at DATETIMEOFFSET(7) NOT NULL,
    key_name   NVARCHAR(200)     NOT NULL,
    note       NVARCHAR(MAX)     NOT NULL
);
GO

-- A deterrent, not the proof (the hashes and signatures are): the log refuses rewrites.
-- Deployments should also DENY UPDATE, DELETE on these tables to the application user.
CREATE TRIGGER audit_log_append_only ON audit_log INSTEAD OF UPDATE, DELETE AS
BEGIN
    THROW 51000, 'audit_log is append-only: UPDATE and DELETE are refused', 1;
END;
GO
CREATE TRIGGER audit_tree_nodes_append_only ON audit_tree_nodes INSTEAD OF UPDATE, DELETE AS
BEGIN
    THROW 51000, 'audit_tree_nodes is append-only: UPDATE and DELETE are refused', 1;
END;
GO
CREATE TRIGGER audit_checkpoints_append_only ON audit_checkpoints INSTEAD OF UPDATE, DELETE AS
BEGIN
    THROW 51000, 'audit_checkpoints is append-only: UPDATE and DELETE are refused', 1;
END;
GO
CREATE TRIGGER audit_frontier_no_delete ON audit_frontier INSTEAD OF DELETE AS
BEGIN
    THROW 51000, 'audit_frontier cannot be deleted', 1;
END;
GO
