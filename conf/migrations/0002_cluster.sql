-- Version 2: the shard map, the cluster's fixed facts and the audit log.
CREATE TABLE IF NOT EXISTS cluster_info (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    shards INT NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
-- One row per shard. node_id holds the shard lease until expires_at (by the
-- database's clock); epoch grows by one on every promotion. prev_* record the
-- holder it replaced, whose lease must have expired before the new holder
-- opens its upstream session.
CREATE TABLE IF NOT EXISTS shard_map (
    shard INT NOT NULL PRIMARY KEY,
    node_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    expires_at DATETIME(6) NOT NULL,
    prev_node BIGINT UNSIGNED NOT NULL DEFAULT 0,
    prev_expires_at DATETIME(6) NOT NULL,
    promoted_at DATETIME(6) NULL,
    promoted_by BIGINT UNSIGNED NOT NULL DEFAULT 0,
    reason VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at DATETIME(6) NOT NULL,
    node_id BIGINT UNSIGNED NOT NULL,
    kind VARCHAR(32) NOT NULL,
    shard INT NULL,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    subject BIGINT UNSIGNED NOT NULL DEFAULT 0,
    detail VARCHAR(255) NOT NULL DEFAULT '',
    KEY (at)
) ENGINE=InnoDB;
