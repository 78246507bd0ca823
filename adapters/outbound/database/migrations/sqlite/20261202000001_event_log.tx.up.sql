-- The event log: every event of every device, appended in the transaction of the change
-- that caused it. Ids are handed out by event_head, whose one row each appending
-- transaction updates (SQLite has one writer at a time anyway), so ids grow in commit order with no gaps, and a reader that has seen id n has
-- seen everything before it. payload is the event's JSON as listeners get it (byte for byte).
CREATE TABLE events (
    id         INTEGER   PRIMARY KEY,
    device_id  text        NOT NULL,
    name       text        NOT NULL,
    created_at TIMESTAMP NOT NULL,
    payload    text        NOT NULL
);

--bun:split

CREATE INDEX events_device_idx ON events (device_id, id);

--bun:split

CREATE TABLE event_head (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    last_id  bigint  NOT NULL
);

--bun:split

INSERT INTO event_head (last_id) VALUES (0);

--bun:split

-- Messages move from the whatsmeow adapter's table to the gateway's: every message
-- received is kept (its identity deduplicates deliveries), with its `message` object
-- (payload) for the history; raw is the WhatsApp client's encoding (for replies and
-- media); seq orders the history. Sent messages are kept too.
CREATE TABLE messages (
    seq        INTEGER     PRIMARY KEY AUTOINCREMENT,
    device_id  text        NOT NULL,
    message_id text        NOT NULL,
    chat       text        NOT NULL,
    sender     text        NOT NULL,
    from_me    boolean     NOT NULL,
    payload    text,
    raw        BLOB        NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (device_id, message_id, chat, sender)
);

--bun:split

CREATE INDEX messages_device_idx ON messages (device_id, seq);

--bun:split

CREATE INDEX messages_chat_idx ON messages (device_id, chat, seq);

--bun:split

CREATE INDEX messages_created_at_idx ON messages (created_at);

--bun:split

INSERT INTO messages (device_id, message_id, chat, sender, from_me, raw, created_at)
SELECT device_id, message_id, chat, sender, from_me, content, created_at FROM whatsapp_messages ORDER BY created_at;

--bun:split

DROP TABLE whatsapp_messages;
