-- Usage write-behind (issue 7): the once-a-second flush of usage counts
-- touches one narrow row per key and counter instead of rewriting wide
-- `api_keys` rows. Keep in step with migrations/postgres/0003_usage_write_behind.sql.

-- Per key: verifications counted and the latest use since this migration.
-- `api_keys.usage_count` / `last_used_at` keep what was counted before it;
-- key reads add the two (usage_count) or take the later (last_used_at).
CREATE TABLE key_usage (
    key_id TEXT PRIMARY KEY,
    usage_count BIGINT NOT NULL,
    last_used_at BIGINT
) WITHOUT ROWID;

-- usage_counters clustered on its primary key: an upsert is one b-tree
-- operation instead of a table row plus its primary-key index entry.
CREATE TABLE usage_counters_clustered (
    key_id TEXT NOT NULL,
    hour_start BIGINT NOT NULL,
    code TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_start, code)
) WITHOUT ROWID;
INSERT INTO usage_counters_clustered (key_id, hour_start, code, count)
    SELECT key_id, hour_start, code, count FROM usage_counters;
DROP TABLE usage_counters;
ALTER TABLE usage_counters_clustered RENAME TO usage_counters;
