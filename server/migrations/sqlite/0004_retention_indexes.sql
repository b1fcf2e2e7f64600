-- Retention and fair delivery (issue: secrets at rest, webhook edges,
-- retention): the indexes the housekeeping purges and the per-organization
-- delivery lease use. Keep in step with migrations/postgres/0004_retention_indexes.sql.
-- (Sealing webhook secrets at rest needs no schema change: the sealed value
-- replaces the plaintext in the same TEXT column.)

-- Idempotency records expire 24 h after created_at.
CREATE INDEX idempotency_records_created ON idempotency_records(created_at);

-- Finished deliveries go 30 days after their last update; events once no
-- delivery refers to them.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(status, updated_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
CREATE INDEX webhook_events_created ON webhook_events(created_at);

-- The delivery worker leases each organization's due deliveries in turn.
CREATE INDEX webhook_deliveries_org_due ON webhook_deliveries(organization_id, status, next_attempt_at);

-- Hourly usage counters go after usage_retention_days (by hour_start).
CREATE INDEX usage_counters_hour ON usage_counters(hour_start);

-- Audit events go after audit_retention_days (by created_at).
CREATE INDEX audit_events_created ON audit_events(created_at);
