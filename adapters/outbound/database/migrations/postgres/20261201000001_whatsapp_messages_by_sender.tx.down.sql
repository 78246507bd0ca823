-- Back to one message per id: the first kept of each id stays.
DELETE FROM whatsapp_messages m
USING whatsapp_messages o
WHERE o.device_id = m.device_id AND o.message_id = m.message_id
  AND (o.created_at, o.chat, o.sender) < (m.created_at, m.chat, m.sender);

--bun:split

ALTER TABLE whatsapp_messages DROP CONSTRAINT whatsapp_messages_pkey;

--bun:split

ALTER TABLE whatsapp_messages ADD PRIMARY KEY (device_id, message_id);
