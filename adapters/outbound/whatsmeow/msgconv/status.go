package msgconv

import (
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/domain/message"
)

// Status turns a receipt into a status update: delivered, read or played by the
// contact, or read or played by the account on another of its devices (FromMe). Other
// receipts (retries, server errors, copies to the account's own devices) are no status
// of a message: ok is false.
func Status(e *events.Receipt) (u message.StatusUpdate, ok bool) {
	switch e.Type {
	case types.ReceiptTypeDelivered, types.ReceiptTypeInactive: // inactive: to a device not marked online
		u.Status = message.StatusDelivered
	case types.ReceiptTypeRead:
		u.Status = message.StatusRead
	case types.ReceiptTypeReadSelf:
		u.Status, u.FromMe = message.StatusRead, true
	case types.ReceiptTypePlayed:
		u.Status = message.StatusPlayed
	case types.ReceiptTypePlayedSelf:
		u.Status, u.FromMe = message.StatusPlayed, true
	default:
		return u, false
	}
	u.FromMe = u.FromMe || e.IsFromMe
	u.MessageIDs = append([]string(nil), e.MessageIDs...)
	u.Chat = e.Chat.ToNonAD().String()
	u.From = Sender(e.Sender, e.SenderAlt)
	u.Timestamp = e.Timestamp.UTC()
	return u, true
}

// Undecryptable is the message the device could not decrypt: who sent it, and when.
func Undecryptable(e *events.UndecryptableMessage) message.Message {
	m := fromInfo(e.Info)
	m.Type = message.TypeUndecryptable
	return m
}
