-- Key hygiene (issue 9): webhooks with an outbox, scheduled rotation and
-- expiry warnings, leak reports. Keep in step with
-- migrations/postgres/0002_key_hygiene.sql.

-- Per-project policies: days before `expires_at` / `next_rotation_at` that the
-- warning events go out (NULL: the default of 7), and what a leak report does
-- to a key ('revoke', the default when NULL, or 'flag').
ALTER TABLE projects ADD COLUMN expiry_warning_days BIGINT;
ALTER TABLE projects ADD COLUMN leak_policy TEXT;

-- Signs deliveries to keys' `rotation_webhook_url` (endpoint deliveries use
-- their endpoint's secret). Created on first use.
ALTER TABLE organizations ADD COLUMN key_webhook_secret TEXT;

-- Once-only markers, claimed with a conditional UPDATE so several server
-- processes announce each warning exactly once.
ALTER TABLE api_keys ADD COLUMN expiry_warned_at BIGINT;
ALTER TABLE api_keys ADD COLUMN rotation_due_warned_at BIGINT;
ALTER TABLE api_keys ADD COLUMN usage_exceeded_notified_at BIGINT;
ALTER TABLE api_keys ADD COLUMN leaked_at BIGINT;
CREATE INDEX api_keys_next_rotation ON api_keys(next_rotation_at);
CREATE INDEX api_keys_expires ON api_keys(expires_at);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event types; empty: every event.
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    is_active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(organization_id, id);

-- The outbox: one row per event, written in the transaction of the change.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per event and destination, also written in that transaction.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES webhook_events(id),
    event_type TEXT NOT NULL,
    endpoint_id TEXT,
    api_key_id TEXT,
    url TEXT NOT NULL,
    -- 'pending', 'succeeded' or 'failed' (dead-lettered after the last retry).
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    retry_step BIGINT NOT NULL,
    next_attempt_at BIGINT,
    locked_until BIGINT,
    last_attempt_at BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries(organization_id, id);
