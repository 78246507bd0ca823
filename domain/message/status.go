package message

import "time"

// Status is how far a message the device sent has got.
type Status string

const (
	StatusSent      Status = "sent"      // WhatsApp's server took it
	StatusDelivered Status = "delivered" // it reached the recipient's phone
	StatusRead      Status = "read"      // the recipient (or, FromMe, the account elsewhere) read it
	StatusPlayed    Status = "played"    // a voice note or video was played
)

// StatusUpdate reports the status of messages in a chat, as a receipt from WhatsApp
// does: From delivered, read or played them. With FromMe, the account itself read or
// played messages it received, on another of its devices (its phone, say).
type StatusUpdate struct {
	Status     Status
	MessageIDs []string
	Chat       string // JID of the chat
	From       Sender // who delivered, read or played them
	FromMe     bool
	Timestamp  time.Time
}
