-- Message ids are chosen by their senders: a kept message is keyed by its chat and sender
-- too, so that a group member who reuses another's id cannot replace that message.
-- created_at becomes the time the message was first kept, which orders the messages
-- sharing an id (the first one is the original).
ALTER TABLE whatsapp_messages DROP CONSTRAINT whatsapp_messages_pkey;

--bun:split

ALTER TABLE whatsapp_messages ADD PRIMARY KEY (device_id, message_id, chat, sender);
