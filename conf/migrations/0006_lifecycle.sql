-- Version 6: what happens after a message is sent, and the other original
-- endpoints.
-- callbacks: every status and inbound message the upstream reported, stored
-- by the primary Coreapp of its shard before it acknowledges the event
-- upstream, then POSTed to webhooks_url (at least once, in order per
-- conversation). event_id is the upstream's id of the event: a redelivered
-- event is stored once. conversation is the other party's number (the
-- recipient of a status, the sender of an inbound message): the order key.
CREATE TABLE IF NOT EXISTS callbacks (
    seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id VARCHAR(64) NOT NULL,
    shard INT NOT NULL,
    kind VARCHAR(8) NOT NULL,
    conversation VARCHAR(20) NOT NULL,
    payload TEXT NOT NULL,
    status VARCHAR(12) NOT NULL DEFAULT 'pending',
    attempts INT NOT NULL DEFAULT 0,
    last_error VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    delivered_at DATETIME(6) NULL,
    UNIQUE KEY (event_id),
    KEY (shard, status, seq)
) ENGINE=InnoDB;
-- media: files in media_dir (shared by every node), by id.
CREATE TABLE IF NOT EXISTS media (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    mime_type VARCHAR(127) NOT NULL,
    sha256 CHAR(64) NOT NULL,
    size BIGINT UNSIGNED NOT NULL,
    created_by VARCHAR(32) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
-- account: the business account's registration, kept by the primary Master.
CREATE TABLE IF NOT EXISTS account (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    cc VARCHAR(4) NOT NULL DEFAULT '',
    phone_number VARCHAR(20) NOT NULL DEFAULT '',
    state VARCHAR(16) NOT NULL DEFAULT 'unregistered',
    vname VARCHAR(64) NOT NULL DEFAULT '',
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
