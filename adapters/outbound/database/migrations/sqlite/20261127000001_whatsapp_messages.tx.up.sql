-- Messages kept by the whatsmeow adapter, per device, for a limited time: quoting them in
-- replies, reacting to them and downloading their media. content is the WhatsApp message
-- (protobuf) without thumbnails.
CREATE TABLE whatsapp_messages (
    device_id  TEXT      NOT NULL,
    message_id TEXT      NOT NULL,
    chat       TEXT      NOT NULL,
    sender     TEXT      NOT NULL,
    from_me    BOOLEAN   NOT NULL,
    content    BLOB      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (device_id, message_id)
);

--bun:split

CREATE INDEX whatsapp_messages_created_at_idx ON whatsapp_messages (created_at);
