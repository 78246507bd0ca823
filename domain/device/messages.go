package device

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wagate/wagate/domain/message"
)

// Stored is a message as the gateway keeps it: the normalized message, and Raw, the
// WhatsApp client's own encoding of it (for replies, reactions and media), which only
// that client reads. A message is identified by its device, id, chat and sender: ids
// are chosen by senders, so two senders can use the same one.
type Stored struct {
	Message message.Message
	Raw     []byte
}

// MessageQuery finds the stored messages with an id, in Chats and from Senders (any
// when empty), first stored first, at most Limit.
type MessageQuery struct {
	ID      string
	Chats   []string
	Senders []string
	Limit   int
}

// HistoryQuery pages through a device's messages, newest first: those in Chat (every
// chat when ""), before the cursor Before (the newest when ""), at most Limit.
type HistoryQuery struct {
	Chat   string
	Before string
	Limit  int
}

// History is a page of messages as `message` objects of the event payloads; Next is
// the cursor of the following page, "" after the last.
type History struct {
	Messages []json.RawMessage
	Next     string
}

// Messages keeps the messages of devices.
type Messages interface {
	// Receive keeps a message that arrived and appends its event to the log, in one
	// transaction. A message kept already (WhatsApp delivering it again) is not stored
	// again and makes no event: added is false.
	Receive(ctx context.Context, e MessageReceived, raw []byte) (added bool, err error)
	// Keep stores a message the device sent; a kept one with the same identity is
	// replaced. It makes no event.
	Keep(ctx context.Context, id ID, m Stored) error
	Find(ctx context.Context, id ID, q MessageQuery) ([]Stored, error)
	History(ctx context.Context, id ID, q HistoryQuery) (History, error)
	// Prune deletes up to limit messages kept since before before and reports how many.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}
