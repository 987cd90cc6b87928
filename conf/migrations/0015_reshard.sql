-- Version 15: the shard count changed live (POST /v1/account/shards).
--
-- A change runs in two steps, both by the primary Master (src/wamaster/
-- reshard.h; the rule and its proof in docs/ARCHITECTURE.md, "Changing
-- the shard count"):
--   draining   every row of the layout in force is marked draining: its
--              lease is renewed no more, the outbox accepts nothing under
--              it, no Master promotes anyone for it, and its holder closes
--              its upstream session and releases the row (released = 1,
--              the lease ended at once) or lets the lease run out;
--   promoting  once no row of the old layout has a lease left, one
--              transaction replaces them with the new layout's rows,
--              moves every pending outbox row and callback to the shard of
--              its recipient or conversation under the new count, and puts
--              the count in force (cluster_info.shards, layout + 1); the new
--              rows are promoted as usual, each new holder waiting for the
--              old leases that covered its recipients (prev_expires_at)
--              and for the gateway's idle timeout unless every one of those
--              holders confirmed its logout (prev_closed).
-- The change is over when every new shard has a primary (state '').
ALTER TABLE cluster_info ADD COLUMN layout BIGINT UNSIGNED NOT NULL DEFAULT 1;
ALTER TABLE cluster_info ADD COLUMN change_state VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE cluster_info ADD COLUMN target_shards INT NULL;
ALTER TABLE cluster_info ADD COLUMN change_id BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE shard_map ADD COLUMN draining TINYINT NOT NULL DEFAULT 0;
ALTER TABLE shard_map ADD COLUMN released TINYINT NOT NULL DEFAULT 0;
-- One row per change, for its progress and its history.
CREATE TABLE IF NOT EXISTS shard_changes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    from_shards INT NOT NULL,
    to_shards INT NOT NULL,
    started_at DATETIME(6) NOT NULL,
    started_by VARCHAR(64) NOT NULL DEFAULT '',
    master_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
    drained_at DATETIME(6) NULL,
    done_at DATETIME(6) NULL,
    moved_messages BIGINT UNSIGNED NOT NULL DEFAULT 0,
    moved_callbacks BIGINT UNSIGNED NOT NULL DEFAULT 0,
    KEY (started_at)
) ENGINE=InnoDB;
