-- Version 8: the node bus's keys. Each node writes the public CURVE key of
-- its certificate here when it registers (wa_trust): a program connects to a
-- node's ports only with this key, and only if the key is also in its own
-- allow-list with the role it expects there. A row of the database is not
-- trusted by itself: the allow-list is. With each liveness claim the node
-- also writes what its bus refused (wa_trust's counters since it started),
-- which every Webapp's /metrics shows.
CREATE TABLE IF NOT EXISTS node_keys (
    node_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    bus_key CHAR(40) NOT NULL,
    refused_handshakes BIGINT UNSIGNED NOT NULL DEFAULT 0,
    refused_keyless BIGINT UNSIGNED NOT NULL DEFAULT 0,
    refused_messages BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;
