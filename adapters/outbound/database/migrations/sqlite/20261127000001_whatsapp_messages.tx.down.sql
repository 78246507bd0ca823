DROP TABLE whatsapp_messages;
