-- Usage write-behind (issue 7): the once-a-second flush of usage counts
-- touches one narrow row per key instead of rewriting wide `api_keys` rows.
-- Keep in step with migrations/sqlite/0003_usage_write_behind.sql (which also
-- clusters usage_counters on its primary key; Postgres has no such layout).

-- Per key: verifications counted and the latest use since this migration.
-- `api_keys.usage_count` / `last_used_at` keep what was counted before it;
-- key reads add the two (usage_count) or take the later (last_used_at).
CREATE TABLE key_usage (
    key_id TEXT PRIMARY KEY,
    usage_count BIGINT NOT NULL,
    last_used_at BIGINT
);
