-- Flowgate schema, PostgreSQL dialect. Times are Unix milliseconds; JSON is stored as text.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    bootstrap BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX tokens_org ON tokens(org_id, id);

CREATE TABLE api_keys (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE INDEX api_keys_hash ON api_keys(hash);

CREATE TABLE integrations (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    alias TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, alias)
);

CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX workflows_org ON workflows(org_id, id);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version BIGINT NOT NULL,
    status TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    wake_at BIGINT,
    deadline BIGINT,
    dedup_key TEXT UNIQUE
);
CREATE INDEX executions_org ON executions(org_id, id);
CREATE INDEX executions_workflow ON executions(workflow_id, id);
CREATE INDEX executions_work ON executions(status, wake_at);
CREATE INDEX executions_finished ON executions(finished_at);

CREATE TABLE steps (
    execution_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    node_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    node_type TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL,
    port TEXT,
    attempts BIGINT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    state TEXT,
    started_at BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (execution_id, scope, node_id)
);

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    notes TEXT NOT NULL,
    integration TEXT,
    channel TEXT,
    ts TEXT,
    approvers TEXT,
    secret TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided_at BIGINT,
    comment TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX approvals_org ON approvals(org_id, status, id);
CREATE INDEX approvals_execution ON approvals(execution_id);

CREATE TABLE kv (
    org_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (namespace, key)
);
