-- Version 14: the certificates an ADMIN uploads, and the third-party
-- stickerpacks. Both are account-wide: written only by the primary Master
-- (src/wamaster/docstore.c), in transactions fenced by the master lease.
--
-- certificates: one row per name, never deleted (a DELETE empties pem), so
-- that its version always grows and the nodes that poll it see every change.
--   name      'external' (the Webapps' HTTPS certificate: key, certificate
--             and CA chain, canonical PEM) or 'webhooks_ca' (the CAs the
--             Coreapps trust for webhook delivery)
--   pem       '' when none is set
--   version   bumped by every change
CREATE TABLE IF NOT EXISTS certificates (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    pem MEDIUMTEXT NOT NULL,
    version BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    updated_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
-- stickerpacks: third-party packs (first-party ones are the network's).
--   next_index  the index the next sticker added gets (never reused)
CREATE TABLE IF NOT EXISTS stickerpacks (
    id CHAR(36) NOT NULL PRIMARY KEY,
    publisher VARCHAR(128) NOT NULL,
    name VARCHAR(128) NOT NULL,
    ios_app_store_link VARCHAR(512) NOT NULL DEFAULT '',
    android_app_store_link VARCHAR(512) NOT NULL DEFAULT '',
    next_index INT UNSIGNED NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    updated_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
-- stickers: a pack's stickers, each an uploaded image (a media id) with
-- its emojis (a JSON array of strings).
CREATE TABLE IF NOT EXISTS stickers (
    pack_id CHAR(36) NOT NULL,
    idx INT UNSIGNED NOT NULL,
    image_data_id VARCHAR(64) NOT NULL,
    emojis VARCHAR(1024) NOT NULL DEFAULT '[]',
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (pack_id, idx)
) ENGINE=InnoDB;
