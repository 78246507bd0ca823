-- Back to one message per id: the first kept of each id stays.
CREATE TABLE whatsapp_messages_old (
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

INSERT INTO whatsapp_messages_old (device_id, message_id, chat, sender, from_me, content, created_at)
SELECT device_id, message_id, chat, sender, from_me, content, created_at FROM whatsapp_messages m
WHERE NOT EXISTS (
    SELECT 1 FROM whatsapp_messages o
    WHERE o.device_id = m.device_id AND o.message_id = m.message_id
      AND (o.created_at, o.chat, o.sender) < (m.created_at, m.chat, m.sender)
);

--bun:split

DROP TABLE whatsapp_messages;

--bun:split

ALTER TABLE whatsapp_messages_old RENAME TO whatsapp_messages;

--bun:split

CREATE INDEX whatsapp_messages_created_at_idx ON whatsapp_messages (created_at);
