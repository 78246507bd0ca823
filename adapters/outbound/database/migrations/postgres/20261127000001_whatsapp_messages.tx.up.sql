-- Messages kept by the whatsmeow adapter, per device, for a limited time: quoting them in
-- replies, reacting to them and downloading their media. content is the WhatsApp message
-- (protobuf) without thumbnails.
CREATE TABLE whatsapp_messages (
    device_id  text        NOT NULL,
    message_id text        NOT NULL,
    chat       text        NOT NULL,
    sender     text        NOT NULL,
    from_me    boolean     NOT NULL,
    content    bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (device_id, message_id)
);

--bun:split

CREATE INDEX whatsapp_messages_created_at_idx ON whatsapp_messages (created_at);
