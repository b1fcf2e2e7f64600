-- Portable schema (see DESIGN §6): TEXT ids (UUIDv7), BIGINT unix-ms times,
-- JSON kept as TEXT, 0/1 integers for booleans. Keep in step with
-- migrations/sqlite/0001_init.sql.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id, created_at);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    key_prefix TEXT,
    default_scopes TEXT,
    default_rate_limit TEXT,
    default_ttl_seconds BIGINT,
    default_grace_period_seconds BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX projects_org ON projects(organization_id, id);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    project_id TEXT REFERENCES projects(id),
    environment_id TEXT NOT NULL REFERENCES environments(id),
    environment TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    last4 TEXT NOT NULL,
    scopes TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    meta TEXT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revoked_at BIGINT,
    is_active BIGINT NOT NULL,
    created_by_user_id TEXT,
    device_name TEXT,
    source TEXT NOT NULL,
    rate_limit_limit BIGINT,
    rate_limit_window_ms BIGINT,
    usage_remaining BIGINT,
    usage_refill_amount BIGINT,
    usage_refill_interval_ms BIGINT,
    usage_refilled_at BIGINT,
    usage_count BIGINT NOT NULL DEFAULT 0,
    replaced_by_key_id TEXT,
    grace_expires_at BIGINT,
    rotation_interval_days BIGINT,
    next_rotation_at BIGINT,
    rotation_webhook_url TEXT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys(key_hash);
CREATE INDEX api_keys_org ON api_keys(organization_id, id);
CREATE INDEX api_keys_project ON api_keys(project_id, id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    created_at BIGINT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events(organization_id, id);

CREATE TABLE usage_counters (
    key_id TEXT NOT NULL,
    hour_start BIGINT NOT NULL,
    code TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_start, code)
);

CREATE TABLE idempotency_records (
    scope_hash TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response_body TEXT,
    response_headers TEXT,
    created_at BIGINT NOT NULL
);
