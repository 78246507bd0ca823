CREATE TABLE devices (
    id                     TEXT PRIMARY KEY,
    name                   TEXT        NOT NULL,
    status                 TEXT        NOT NULL,
    jid                    TEXT        NOT NULL DEFAULT '',
    phone_number           TEXT        NOT NULL DEFAULT '',
    push_name              TEXT        NOT NULL DEFAULT '',
    business_name          TEXT        NOT NULL DEFAULT '',
    last_disconnect_reason TEXT        NOT NULL DEFAULT '',
    ban_expires_at         TIMESTAMP,
    qr                     TEXT        NOT NULL DEFAULT '',
    qr_expires_at          TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    last_connected_at      TIMESTAMP
);

--bun:split

CREATE INDEX devices_created_at_idx ON devices (created_at, id);

--bun:split

CREATE INDEX devices_status_idx ON devices (status, created_at, id);
