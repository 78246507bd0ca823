package device

import (
	"context"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/message"
)

// Repository stores devices. Get, Update and Delete fail with a domain.KindNotFound error
// when the device does not exist.
type Repository interface {
	Create(ctx context.Context, d *Device) error
	Get(ctx context.Context, id ID) (*Device, error)
	List(ctx context.Context, f Filter) (Page, error)
	// IDs lists the ids of the devices in statuses (any when empty), oldest first, in one
	// read and without loading the devices: the sessions that should run are listed
	// every few seconds, and there may be 10,000 of them.
	IDs(ctx context.Context, statuses []Status) ([]ID, error)
	// Count counts the devices in each status; statuses without devices may be absent.
	Count(ctx context.Context) (map[Status]int, error)
	// Update loads the device, applies fn and stores the result together with the
	// events fn recorded (appended to the event log, see PullEvents), atomically. When fn
	// returns an error nothing is stored and that error is returned.
	Update(ctx context.Context, id ID, fn func(*Device) error) (*Device, error)
	// Delete loads the device, applies fn, then deletes the device and its messages and
	// appends the events fn recorded, atomically.
	Delete(ctx context.Context, id ID, fn func(*Device) error) error
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
}

// Filter selects devices for List, oldest first.
type Filter struct {
	Statuses []Status // empty: any status
	Limit    int      // at most this many; must be positive
	Offset   int
}

// Page is one page of a listing and the number of devices matching the filter in all.
type Page struct {
	Devices []*Device
	Total   int
}

// WhatsAppClient runs devices' WhatsApp sessions. Sessions live in the background: their
// news reaches the SessionHandler given to Connect, in order for each device.
type WhatsAppClient interface {
	Messenger
	// Connect starts the session and returns once it is under way: with a stored link it
	// logs in, without one it starts pairing (QR codes).
	Connect(ctx context.Context, s Session, h SessionHandler) error
	// Disconnect ends the session and keeps the link for the next Connect.
	Disconnect(ctx context.Context, id ID) error
	// Logout unlinks the account from the phone when it can, ends the session and
	// deletes the link.
	Logout(ctx context.Context, s Session) error
	// Remove ends the session and deletes everything kept for the device.
	Remove(ctx context.Context, s Session) error
	// PairPhone asks WhatsApp for a pairing code for phoneNumber (digits) while the
	// session is pairing: the user types it on the phone instead of scanning a QR code.
	PairPhone(ctx context.Context, id ID, phoneNumber string) (code string, err error)
	// Send sends a message from the device's account. It fails with a domain.KindInvalid
	// error for a bad recipient and domain.KindConflict when the session is not connected.
	Send(ctx context.Context, id ID, m message.Outgoing) (message.Receipt, error)
	// Media downloads the file of a message the device received or sent: domain.KindNotFound
	// when there is none, domain.KindConflict when ref matches several messages (the
	// caller then names the chat and sender), domain.KindInvalid when the file is larger
	// than the gateway accepts. The caller closes the file's Content.
	Media(ctx context.Context, id ID, ref message.MediaRef) (message.MediaFile, error)
}

// Messenger acts in chats for a device's account. Chats, senders and contacts are phone
// numbers or JIDs. Every method fails with a domain.KindConflict error when the session
// is not connected and domain.KindInvalid for a bad address.
type Messenger interface {
	// MarkRead sends read receipts for messages the device received.
	MarkRead(ctx context.Context, id ID, r message.ReadMark) error
	// SetChatState shows the contacts of a chat that the account is typing, recording,
	// or neither.
	SetChatState(ctx context.Context, id ID, chat string, s message.ChatState) error
	// Edit replaces the text of a message the device sent.
	Edit(ctx context.Context, id ID, e message.Edit) (message.Receipt, error)
	// Revoke deletes a message the device sent, for everyone in the chat.
	Revoke(ctx context.Context, id ID, chat, messageID string) (message.Receipt, error)
	// CheckPhones asks WhatsApp which of the phone numbers (digits) have an account.
	CheckPhones(ctx context.Context, id ID, phones []string) ([]message.PhoneCheck, error)
	// ProfilePicture returns a contact's profile picture: domain.KindNotFound when it has
	// none, or none the account may see.
	ProfilePicture(ctx context.Context, id ID, contact string) (message.Picture, error)
}

// Session names a device's session for the WhatsApp client.
type Session struct {
	DeviceID ID
	JID      string // the stored link, "" when the device is not linked
}

// SessionHandler receives what a session reports. The WhatsApp client calls it from one
// goroutine per device, so it may take its time without reordering a device's news. An
// error means the news was not stored: for a message, the client must not acknowledge
// it to WhatsApp, which then delivers it again.
type SessionHandler interface {
	HandleSession(ctx context.Context, id ID, ev SessionEvent) error
}

// EventPublisher tells listeners about events once they are in the log: in the order of
// their ids, each once.
type EventPublisher interface {
	Publish(ctx context.Context, r Record) error
}

// NotFound is the error repositories return for a device they do not have.
func NotFound(id ID) error {
	return domain.Errorf(domain.KindNotFound, "device %s not found", id)
}
