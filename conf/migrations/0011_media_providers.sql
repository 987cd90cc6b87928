-- Version 11: media providers. A message's media "link" may name a provider
-- ("provider": {"name": ...}), whose credentials the Webapp that downloads
-- the link sends with it: HTTP Basic or a Bearer token, as the original's
-- POST /v1/settings/application/media/providers sets them.
--   name     the provider's name, as messages give it
--   type     "www" (the original's only type)
--   config   JSON: {"basic": {"username", "password"}} or {"bearer": "..."}
--            (either; the credentials are sent only to the link's own host,
--            never across a redirect to another)
-- The Webapps only read this table; the providers endpoints write it.
CREATE TABLE IF NOT EXISTS media_providers (
    name VARCHAR(100) NOT NULL PRIMARY KEY,
    type VARCHAR(16) NOT NULL DEFAULT 'www',
    config TEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    updated_by VARCHAR(64) NOT NULL DEFAULT ''
) ENGINE=InnoDB;
