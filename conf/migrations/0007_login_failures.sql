-- Version 7: failed logins, counted in the database so that every Webapp
-- sees the same counts. One row per user name ('user') and per client
-- address ('address': an IPv4 address, or the /64 of an IPv6 one). A row
-- counts the failures within the window its first failure opened
-- (window_start); once failures reaches login_failures_limit, logins of
-- that user, or from that address, are refused until the window ends. A
-- successful login deletes its user's row only: it clears nothing for the
-- address, so one good login cannot reset an attacker's count. Rows whose
-- window has ended mean nothing and are deleted by the Webapps' purge.
CREATE TABLE IF NOT EXISTS login_failures (
    kind VARCHAR(8) NOT NULL,
    name VARCHAR(64) NOT NULL,
    failures INT NOT NULL,
    window_start DATETIME(6) NOT NULL,
    PRIMARY KEY (kind, name),
    KEY (window_start)
) ENGINE=InnoDB;
