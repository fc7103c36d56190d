-- Business applications to use residents' data, their frozen submitted versions with the PIA
-- report and policy decision, every workflow step as an event, committee votes and decisions,
-- and the time-limited grants an approval creates.
CREATE TABLE applications (
    id              UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    owner_client_id NVARCHAR(200) NOT NULL,
    status          NVARCHAR(32) NOT NULL,
    version         INTEGER NOT NULL,
    spec_json       NVARCHAR(MAX) NOT NULL,
    created_at      DATETIMEOFFSET NOT NULL,
    updated_at      DATETIMEOFFSET NOT NULL
);
CREATE INDEX ix_applications_owner ON applications (owner_client_id, created_at);
CREATE INDEX ix_applications_status ON applications (status, updated_at);

CREATE TABLE application_versions (
    application_id UNIQUEIDENTIFIER NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    spec_json      NVARCHAR(MAX) NOT NULL,
    spec_hash      NVARCHAR(80) NOT NULL,
    submitted_at   DATETIMEOFFSET NOT NULL,
    pia_json       NVARCHAR(MAX) NOT NULL,
    policy_json    NVARCHAR(MAX) NOT NULL,
    rule_hash      NVARCHAR(80) NOT NULL,
    PRIMARY KEY (application_id, version)
);

CREATE TABLE application_events (
    id             BIGINT IDENTITY(1,1) PRIMARY KEY,
    application_id UNIQUEIDENTIFIER NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    kind           NVARCHAR(64) NOT NULL,
    actor          NVARCHAR(200) NOT NULL,
    occurred_at    DATETIMEOFFSET NOT NULL,
    payload_json   NVARCHAR(MAX) NULL
);
CREATE INDEX ix_application_events_application ON application_events (application_id, id);

CREATE TABLE committee_votes (
    application_id  UNIQUEIDENTIFIER NOT NULL REFERENCES applications (id),
    version         INTEGER NOT NULL,
    member_id       UNIQUEIDENTIFIER NOT NULL,
    role            NVARCHAR(32) NOT NULL,
    choice          NVARCHAR(32) NOT NULL,
    reason          NVARCHAR(MAX) NOT NULL,
    conditions_json NVARCHAR(MAX) NOT NULL,
    cast_at         DATETIMEOFFSET NOT NULL,
    PRIMARY KEY (application_id, version, member_id)
);

CREATE TABLE committee_decisions (
    application_id UNIQUEIDENTIFIER NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    outcome        NVARCHAR(32) NOT NULL,
    decision_json  NVARCHAR(MAX) NOT NULL,
    decided_by     NVARCHAR(200) NOT NULL,
    decided_at     DATETIMEOFFSET NOT NULL,
    rule_hash      NVARCHAR(80) NOT NULL,
    PRIMARY KEY (application_id, version)
);

CREATE TABLE grants (
    id                  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    application_id      UNIQUEIDENTIFIER NOT NULL UNIQUE REFERENCES applications (id),
    version             INTEGER NOT NULL,
    recipient_client_id NVARCHAR(200) NOT NULL,
    status              NVARCHAR(32) NOT NULL,
    valid_from          DATETIMEOFFSET NOT NULL,
    valid_until         DATETIMEOFFSET NOT NULL,
    purpose_code        NVARCHAR(100) NOT NULL,
    data_json           NVARCHAR(MAX) NOT NULL,
    output_kind         NVARCHAR(32) NOT NULL,
    min_group_size      INTEGER NULL,
    fetch_frequency     NVARCHAR(32) NOT NULL,
    max_records_per_fetch INTEGER NULL,
    retention_days      INTEGER NOT NULL,
    benefit_points      INTEGER NOT NULL,
    conditions_json     NVARCHAR(MAX) NOT NULL,
    policy_hash         NVARCHAR(80) NOT NULL,
    status_reason       NVARCHAR(MAX) NULL,
    created_at          DATETIMEOFFSET NOT NULL,
    updated_at          DATETIMEOFFSET NOT NULL
);
CREATE INDEX ix_grants_recipient ON grants (recipient_client_id, status);
CREATE INDEX ix_grants_status ON grants (status, valid_until);
