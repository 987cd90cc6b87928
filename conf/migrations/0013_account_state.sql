-- Version 13: the account-wide state the API keeps besides the settings
-- (issue 12): the business profile, the compliance info, the profile's
-- About text, the profile photo and the two-step verification PIN, and
-- the contacts' acknowledged identities.
--   account_state    one row per piece, its value JSON: business_profile,
--                    compliance_info, about ({"text"}), two_step
--                    ({"pin_hash": Argon2id}), photo ({"sha256","type","size"}).
--                    Written only by the primary Master, in transactions
--                    fenced by the master lease, as the settings are.
--   account_blobs    content-addressed bytes too large for a frame between
--                    nodes: the profile photo, and a restore's decrypted
--                    content on its way to the primary Master (kind
--                    'restore', removed an hour after it was staged: a
--                    restore retried across a failover applies it again). Stored as base64 in chunks of
--                    WA_BLOB_CHUNK bytes (seq 0, 1, ...), each row small
--                    enough for any client buffer. Any Webapp inserts one
--                    (its id is its SHA-256, so two inserts of one blob are
--                    one); the primary Master removes those no state names.
--   contact_identity the identity hash a business acknowledged for a
--                    contact (PUT /v1/contacts/{wa_id}/identity), written
--                    by the primary Coreapp of the contact's shard.
CREATE TABLE IF NOT EXISTS account_state (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    value MEDIUMTEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    updated_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS account_blobs (
    sha256 CHAR(64) NOT NULL,
    seq INT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    content_type VARCHAR(64) NOT NULL,
    size BIGINT NOT NULL,
    data TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (sha256, seq)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS contact_identity (
    wa_id VARCHAR(20) NOT NULL PRIMARY KEY,
    hash VARCHAR(64) NOT NULL,
    acknowledged_at DATETIME(6) NOT NULL,
    acknowledged_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
