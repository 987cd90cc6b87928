-- Version 4: the Webapp's users and login tokens.
-- Passwords are stored as libsodium crypto_pwhash_str strings (Argon2id).
-- must_change is set for the default admin: its first login must set a
-- new password. waweb creates that admin when the table is empty.
CREATE TABLE IF NOT EXISTS users (
    username VARCHAR(32) NOT NULL PRIMARY KEY,
    password_hash VARCHAR(128) NOT NULL,
    role VARCHAR(8) NOT NULL,
    must_change TINYINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
-- A token is stored only as the hex of its BLAKE2b hash (crypto_generichash),
-- so a stolen table gives no usable token. Every Webapp reads this table, so
-- any Webapp accepts a token another issued, and a logout (revoked_at) is
-- seen by all of them.
CREATE TABLE IF NOT EXISTS tokens (
    token_hash CHAR(64) NOT NULL PRIMARY KEY,
    username VARCHAR(32) NOT NULL,
    role VARCHAR(8) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    KEY (username),
    KEY (expires_at)
) ENGINE=InnoDB;
