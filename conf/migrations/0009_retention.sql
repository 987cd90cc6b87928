-- Version 9: retention. The primary Master deletes what is finished and
-- older than its retention (wamaster/gc.c): sent or refused outbox rows,
-- delivered (skipped, rejected) callbacks, audit events. It needs no new
-- index: outbox and callbacks are walked in primary-key order, a window of
-- gc_batch_size rows at a time (seq grows with created_at), and events by
-- their `at` key. An index on sent_at would cost every send a secondary
-- index write, and building it on the large outbox of a cluster that ran
-- without retention would outlast the statement timeout.
-- gc_state: one row (id 1), what the last pass did, written by the primary
-- Master that ran it (fenced by its lease), read by `wactl status`.
--   node_id, epoch   the Master and master lease epoch that ran it
--   passes           passes that ended, since the cluster began
--   last_*           the last pass: when it ended, how long it took, the rows
--                    it deleted per table, its error ('' when none)
--   *_deleted        rows deleted per table, since the cluster began
CREATE TABLE IF NOT EXISTS gc_state (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    node_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    passes BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_pass_at DATETIME(6) NULL,
    last_pass_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_batches INT NOT NULL DEFAULT 0,
    last_outbox BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_callbacks BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_events BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_error VARCHAR(255) NOT NULL DEFAULT '',
    outbox_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0,
    callbacks_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0,
    events_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;
INSERT IGNORE INTO gc_state (id) VALUES (1);
