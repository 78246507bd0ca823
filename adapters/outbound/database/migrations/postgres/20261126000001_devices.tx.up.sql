CREATE TABLE devices (
    id                     uuid PRIMARY KEY,
    name                   text        NOT NULL,
    status                 text        NOT NULL,
    jid                    text        NOT NULL DEFAULT '',
    phone_number           text        NOT NULL DEFAULT '',
    push_name              text        NOT NULL DEFAULT '',
    business_name          text        NOT NULL DEFAULT '',
    last_disconnect_reason text        NOT NULL DEFAULT '',
    ban_expires_at         timestamptz,
    qr                     text        NOT NULL DEFAULT '',
    qr_expires_at          timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    last_connected_at      timestamptz
);

--bun:split

CREATE INDEX devices_created_at_idx ON devices (created_at, id);

--bun:split

CREATE INDEX devices_status_idx ON devices (status, created_at, id);
