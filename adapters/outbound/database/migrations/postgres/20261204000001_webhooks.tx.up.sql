-- Webhooks (domain/webhook): cursor_id is the id of the last event of the log each one is
-- done with; owner is the instance delivering it, until owner_expires.
CREATE TABLE webhooks (
    id            text        PRIMARY KEY,
    url           text        NOT NULL,
    events        text        NOT NULL,
    devices       text        NOT NULL,
    secret        text        NOT NULL,
    enabled       boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    cursor_id     bigint      NOT NULL,
    owner         text        NOT NULL DEFAULT '',
    owner_expires timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00'
);

--bun:split

-- Every attempt to deliver an event to a webhook, kept as long as the events.
CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    webhook_id   text        NOT NULL,
    event_id     bigint      NOT NULL,
    event        text        NOT NULL,
    device_id    text        NOT NULL,
    attempt      integer     NOT NULL,
    status       text        NOT NULL,
    code         integer     NOT NULL,
    error        text        NOT NULL,
    latency_us   bigint      NOT NULL,
    at           timestamptz NOT NULL,
    next_attempt timestamptz
);

--bun:split

CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);

--bun:split

CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (webhook_id, status, event_id);

--bun:split

CREATE INDEX webhook_deliveries_at_idx ON webhook_deliveries (at);
