-- Business applications to use residents' data, their frozen submitted versions with the PIA
-- report and policy decision, every workflow step as an event, committee votes and decisions,
-- and the time-limited grants an approval creates.
CREATE TABLE applications (
    id              TEXT NOT NULL PRIMARY KEY,
    owner_client_id TEXT NOT NULL,
    status          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    spec_json       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ix_applications_owner ON applications (owner_client_id, created_at);
CREATE INDEX ix_applications_status ON applications (status, updated_at);

CREATE TABLE application_versions (
    application_id TEXT NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    spec_json      TEXT NOT NULL,
    spec_hash      TEXT NOT NULL,
    submitted_at   TEXT NOT NULL,
    pia_json       TEXT NOT NULL,
    policy_json    TEXT NOT NULL,
    rule_hash      TEXT NOT NULL,
    PRIMARY KEY (application_id, version)
);

CREATE TABLE application_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id TEXT NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    occurred_at    TEXT NOT NULL,
    payload_json   TEXT NULL
);
CREATE INDEX ix_application_events_application ON application_events (application_id, id);

CREATE TABLE committee_votes (
    application_id  TEXT NOT NULL REFERENCES applications (id),
    version         INTEGER NOT NULL,
    member_id       TEXT NOT NULL,
    role            TEXT NOT NULL,
    choice          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    conditions_json TEXT NOT NULL,
    cast_at         TEXT NOT NULL,
    PRIMARY KEY (application_id, version, member_id)
);

CREATE TABLE committee_decisions (
    application_id TEXT NOT NULL REFERENCES applications (id),
    version        INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    decision_json  TEXT NOT NULL,
    decided_by     TEXT NOT NULL,
    decided_at     TEXT NOT NULL,
    rule_hash      TEXT NOT NULL,
    PRIMARY KEY (application_id, version)
);

CREATE TABLE grants (
    id                  TEXT NOT NULL PRIMARY KEY,
    application_id      TEXT NOT NULL UNIQUE REFERENCES applications (id),
    version             INTEGER NOT NULL,
    recipient_client_id TEXT NOT NULL,
    status              TEXT NOT NULL,
    valid_from          TEXT NOT NULL,
    valid_until         TEXT NOT NULL,
    purpose_code        TEXT NOT NULL,
    data_json           TEXT NOT NULL,
    output_kind         TEXT NOT NULL,
    min_group_size      INTEGER NULL,
    fetch_frequency     TEXT NOT NULL,
    max_records_per_fetch INTEGER NULL,
    retention_days      INTEGER NOT NULL,
    benefit_points      INTEGER NOT NULL,
    conditions_json     TEXT NOT NULL,
    policy_hash         TEXT NOT NULL,
    status_reason       TEXT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX ix_grants_recipient ON grants (recipient_client_id, status);
CREATE INDEX ix_grants_status ON grants (status, valid_until);
