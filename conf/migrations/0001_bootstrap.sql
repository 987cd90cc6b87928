-- Version 1: what electing a Master needs. Every Master applies it at start,
-- before the election, so every statement here must be idempotent and safe
-- to run from several nodes at once (no bare CREATE: the original's race).
-- Versions above 1 are applied by the primary Master only.
CREATE TABLE IF NOT EXISTS schema_version (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    version INT NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO schema_version (id, version, updated_at) VALUES (1, 0, NOW(6));
CREATE TABLE IF NOT EXISTS master_lease (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    holder BIGINT UNSIGNED NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    acquired_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO master_lease (id, holder, epoch, expires_at, acquired_at)
    VALUES (1, 0, 0, '1970-01-02 00:00:00', '1970-01-02 00:00:00');
CREATE TABLE IF NOT EXISTS nodes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    ports VARCHAR(32) NOT NULL,
    pid INT NOT NULL,
    version VARCHAR(32) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    last_seen DATETIME(6) NOT NULL,
    gateway_status VARCHAR(16) NOT NULL DEFAULT 'disconnected',
    stopped_at DATETIME(6) NULL,
    KEY (kind, last_seen)
) ENGINE=InnoDB;
