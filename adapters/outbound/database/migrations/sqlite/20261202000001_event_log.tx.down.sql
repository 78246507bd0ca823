CREATE TABLE whatsapp_messages (
    device_id  text        NOT NULL,
    message_id text        NOT NULL,
    chat       text        NOT NULL,
    sender     text        NOT NULL,
    from_me    boolean     NOT NULL,
    content    BLOB        NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (device_id, message_id, chat, sender)
);

--bun:split

CREATE INDEX whatsapp_messages_created_at_idx ON whatsapp_messages (created_at);

--bun:split

INSERT INTO whatsapp_messages (device_id, message_id, chat, sender, from_me, content, created_at)
SELECT device_id, message_id, chat, sender, from_me, raw, created_at FROM messages;

--bun:split

DROP TABLE messages;

--bun:split

DROP TABLE event_head;

--bun:split

DROP TABLE events;
