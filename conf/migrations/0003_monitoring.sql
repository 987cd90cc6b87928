-- Version 3: cluster settings and heartbeat-based monitoring.
-- Settings every node applies live; seeded from the first primary Master's
-- config, changed with `wactl settings set`. Values are text, validated by
-- every node with the same table as the config file.
CREATE TABLE IF NOT EXISTS settings (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value VARCHAR(255) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    updated_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
-- The primary Master's view of each Coreapp from heartbeat replies:
-- healthy, late (missed beats) or unhealthy, how long since the last reply
-- to the primary, and how many secondary Masters also see it unhealthy.
-- demoted_at starts the promotion hold-off of a replaced primary.
CREATE TABLE IF NOT EXISTS node_health (
    node_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    state VARCHAR(16) NOT NULL DEFAULT 'unknown',
    reply_age_ms BIGINT NOT NULL DEFAULT 0,
    votes INT NOT NULL DEFAULT 0,
    observers INT NOT NULL DEFAULT 0,
    demoted_at DATETIME(6) NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
-- Promotion reasons name the rule that fired; 64 characters were too few.
ALTER TABLE shard_map MODIFY reason VARCHAR(255) NOT NULL DEFAULT '';
