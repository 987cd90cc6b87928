-- Version 10: the operator's controls (wactl switchover, pause, resume) and
-- the failover rate limit's history.
--
-- shard_map.prev_closed: 1 when the previous holder closed its upstream
-- session and the gateway confirmed it (LOGOUT_OK) before it handed the
-- shard over (a planned switchover): its session is known gone, so the new
-- holder logs in at once instead of waiting for the old lease and the
-- gateway's idle timeout. Every other promotion writes 0.
ALTER TABLE shard_map ADD COLUMN prev_closed TINYINT NOT NULL DEFAULT 0;
-- Maintenance mode: while paused_at is set no Master replaces a primary
-- Coreapp on its own (planned switchovers still run). Set by `wactl pause`,
-- cleared by `wactl resume`; both are audited in `events`.
ALTER TABLE cluster_info ADD COLUMN paused_at DATETIME(6) NULL;
ALTER TABLE cluster_info ADD COLUMN paused_by VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE cluster_info ADD COLUMN pause_reason VARCHAR(255) NOT NULL DEFAULT '';
-- One row per failover: a promotion made by a Master's monitor that
-- replaced a holder (not a shard's first promotion, not a planned
-- switchover), written with it: failover_limit per failover_window
-- is counted here, so a Master that takes the lease over honours the
-- failovers its predecessor made. Rows older than a day are pruned as new
-- ones are written.
CREATE TABLE IF NOT EXISTS failovers (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    shard INT NOT NULL,
    at DATETIME(6) NOT NULL,
    node_id BIGINT UNSIGNED NOT NULL,
    prev_node BIGINT UNSIGNED NOT NULL DEFAULT 0,
    promoted_by BIGINT UNSIGNED NOT NULL DEFAULT 0,
    reason VARCHAR(64) NOT NULL DEFAULT '',
    KEY (shard, at),
    KEY (at)
) ENGINE=InnoDB;
