-- API keys created through the API. Only the SHA-256 of each secret is kept; hint is its
-- first characters, to tell keys apart. devices is the comma-separated list of the
-- devices the key is limited to, empty for every device.
CREATE TABLE api_keys (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    role       text        NOT NULL,
    devices    text        NOT NULL DEFAULT '',
    hash       bytea       NOT NULL UNIQUE,
    hint       text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);
