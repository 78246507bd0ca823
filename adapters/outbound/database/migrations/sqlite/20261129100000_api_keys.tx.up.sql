-- API keys created through the API. Only the SHA-256 of each secret is kept; hint is its
-- first characters, to tell keys apart. devices is the comma-separated list of the
-- devices the key is limited to, empty for every device.
CREATE TABLE api_keys (
    id         TEXT      PRIMARY KEY,
    name       TEXT      NOT NULL,
    role       TEXT      NOT NULL,
    devices    TEXT      NOT NULL DEFAULT '',
    hash       BLOB      NOT NULL UNIQUE,
    hint       TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP
);
