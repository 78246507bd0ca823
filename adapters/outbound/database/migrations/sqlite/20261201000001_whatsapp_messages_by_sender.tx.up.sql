-- Message ids are chosen by their senders: a kept message is keyed by its chat and sender
-- too, so that a group member who reuses another's id cannot replace that message.
-- created_at becomes the time the message was first kept, which orders the messages
-- sharing an id (the first one is the original). SQLite cannot change a primary key:
-- the table is rebuilt.
CREATE TABLE whatsapp_messages_new (
    device_id  TEXT      NOT NULL,
    message_id TEXT      NOT NULL,
    chat       TEXT      NOT NULL,
    sender     TEXT      NOT NULL,
    from_me    BOOLEAN   NOT NULL,
    content    BLOB      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (device_id, message_id, chat, sender)
);

--bun:split

INSERT INTO whatsapp_messages_new (device_id, message_id, chat, sender, from_me, content, created_at)
SELECT device_id, message_id, chat, sender, from_me, content, created_at FROM whatsapp_messages;

--bun:split

DROP TABLE whatsapp_messages;

--bun:split

ALTER TABLE whatsapp_messages_new RENAME TO whatsapp_messages;

--bun:split

CREATE INDEX whatsapp_messages_created_at_idx ON whatsapp_messages (created_at);
