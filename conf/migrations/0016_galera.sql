-- Version 16: correct on a MariaDB Galera cluster as on one server
-- (docs/ARCHITECTURE.md, "On a Galera cluster").
--
-- A locking read (SELECT ... FOR UPDATE / LOCK IN SHARE MODE) locks rows on
-- the database node that runs it only; Galera's certification sees writes.
-- So every fence that kept a writer out by a shared lock now writes the row
-- it fences on, and a concurrent writer of that row on another database
-- node fails certification at COMMIT (error 1213) instead of both
-- committing:
--   shard_map.fence      written by the outbox's and the callbacks' batches
--                        of the shard's holder (a promotion, a renewal, a
--                        handover, a change of the shard count write the row
--                        too);
--   master_lease.fence   written by every change fenced by the master lease
--                        (settings, shard count, account state, providers);
--   named_locks          a row per name, written at the start of the
--                        transaction it serializes (GET_LOCK is local to one
--                        database node, and refused by some Galera versions).
-- nodes.db_node: the database node (host:port) a node's connections use,
-- written with its liveness claim (wactl status).
ALTER TABLE shard_map ADD COLUMN fence BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE master_lease ADD COLUMN fence BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN db_node VARCHAR(300) NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS named_locks (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    taken BIGINT UNSIGNED NOT NULL DEFAULT 0,
    taken_at DATETIME(6) NULL
) ENGINE=InnoDB;
