-- Version 5: the outbox. One row per accepted message, written by the
-- primary Coreapp of the message's shard before it answers 201 and before it
-- sends the message upstream.
--   idem_key  the request's idempotency key (unique): a retried request finds
--             its row and keeps its id; the message is never accepted twice
--   id        the message id, derived from idem_key (unique)
--   epoch     the shard lease epoch that accepted it; batch identifies the
--             insert that wrote it, so a Coreapp can tell its new rows from
--             rows that were already there
--   payload   the JSON sent upstream: {"id","to","type","body"}
--   status    pending until the upstream acknowledged it (or a new primary
--             found, by asking the upstream, that it had arrived)
CREATE TABLE IF NOT EXISTS outbox (
    seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id VARCHAR(40) NOT NULL,
    idem_key VARCHAR(100) NOT NULL,
    shard INT NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    batch BIGINT UNSIGNED NOT NULL,
    recipient VARCHAR(20) NOT NULL,
    payload TEXT NOT NULL,
    status VARCHAR(8) NOT NULL DEFAULT 'pending',
    created_at DATETIME(6) NOT NULL,
    sent_at DATETIME(6) NULL,
    UNIQUE KEY (idem_key),
    UNIQUE KEY (id),
    KEY (shard, status, seq)
) ENGINE=InnoDB;
