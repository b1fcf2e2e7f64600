-- Failed and denied authentication is audited as one row per credential
-- fingerprint, client address and minute, with a count (issue 14): a revoked
-- key in a loop adds to a row instead of burying the audit trail.
-- Keep in step with migrations/sqlite/0005_auth_failure_aggregation.sql.
ALTER TABLE audit_events ADD COLUMN repeat_count BIGINT NOT NULL DEFAULT 1;
-- NULL for every ordinary event (NULLs never collide in a unique index).
ALTER TABLE audit_events ADD COLUMN aggregation_key TEXT;
CREATE UNIQUE INDEX audit_events_aggregation ON audit_events(aggregation_key);
