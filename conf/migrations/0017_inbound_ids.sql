-- Version 17: inbound message ids, kept for PUT /v1/messages/{id}.
-- Marking an inbound message read needs its sender (the conversation, and
-- so the shard that serves it under the shard count in force) for as long
-- as a client may mark it; its callback row may be gone long before
-- (pass_through deletes delivered callbacks once past the retry window).
-- inbound_ids: one row per inbound message, written by the primary
-- Coreapp in the transaction that stores its callback (the same fence), so
-- an inbound message that reached the webhook always has its row.
--   message_id   the id the webhook gave (messages[0].id)
--   shard        the shard it came under (the count then; the count in
--                force decides where the read goes)
--   sender       messages[0].from
--   created_at   when it was stored; the primary Master's retention
--                deletes rows older than retention_callbacks_days, oldest
--                first by this key (pass_through does not shorten it: the
--                row holds no content)
-- An inbound message stored before this version has no row here; PUT
-- /v1/messages/{id} finds it by its callback, as before (a backfill would
-- scan the whole callbacks table inside the migration).
-- gc_state gets the rows it deleted, as for the other tables.
CREATE TABLE IF NOT EXISTS inbound_ids (
    message_id VARCHAR(64) NOT NULL PRIMARY KEY,
    shard INT NOT NULL,
    sender VARCHAR(20) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY (created_at)
) ENGINE=InnoDB;
ALTER TABLE gc_state ADD COLUMN last_inbound_ids BIGINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN inbound_ids_deleted BIGINT UNSIGNED NOT NULL DEFAULT 0;
