package device

import (
	"time"

	"github.com/wagate/wagate/domain/message"
)

// Event is something that happened to a device that listeners are told about. There is
// one type per Socket.io event of the gateway's contract; Name is that event's name.
type Event interface {
	Name() string
	Head() Header
	fill(payload map[string]any) // its own fields of the payload (payload.go)
}

// Header is what every event carries: which device, and when.
type Header struct {
	DeviceID ID
	At       time.Time
}

func (h Header) Head() Header { return h }

func header(id ID, at time.Time) Header { return Header{DeviceID: id, At: at.UTC()} }

// QR: a new QR code is waiting to be scanned by the phone.
type QR struct {
	Header
	Code      string
	ExpiresAt time.Time
}

// Authenticated: the phone accepted the link.
type Authenticated struct {
	Header
	PhoneNumber string
	ClientName  string // business name, else push name; may be empty
}

// Ready: the session is logged in and connected.
type Ready struct {
	Header
	PhoneNumber string
}

// MessageReceived: a message arrived on the device.
type MessageReceived struct {
	Header
	Message message.Message
}

// NewMessageReceived builds the event for a message that arrived on device id.
func NewMessageReceived(id ID, m message.Message, now time.Time) MessageReceived {
	return MessageReceived{header(id, now), m}
}

// Receipt: messages the device sent were delivered, read or played, or the account
// read messages it received on another of its devices. An addition to the contract's
// six events.
type Receipt struct {
	Header
	Update message.StatusUpdate
}

// StateChanged: the device's status changed to Status. From and Cause are not in the
// payload: they explain the change in the gateway's log. Cause is the disconnect Reason
// when the device lost or ended its connection, else one of the Cause constants.
type StateChanged struct {
	Header
	Status Status
	From   Status
	Cause  string
}

// Why a device's status changed, besides the disconnect reasons.
const (
	CauseConnect  = "connect"   // connecting was asked for
	CauseQR       = "qr"        // the first QR code to scan arrived
	CausePaired   = "paired"    // the phone accepted the link
	CauseLoggedIn = "logged_in" // the session logged in
	CauseResume   = "resume"    // the session is started again (restart, or taken over from another instance)
)

// Disconnected: the device lost (or ended) its connection.
type Disconnected struct {
	Header
	Reason Reason
}

// EventNames are the names of every kind of event, as listeners and webhooks know them
// (a test checks the list against the Name methods).
var EventNames = []string{"qr", "authenticated", "ready", "message", "state", "disconnected", "receipt"}

func (QR) Name() string              { return "qr" }
func (Authenticated) Name() string   { return "authenticated" }
func (Ready) Name() string           { return "ready" }
func (MessageReceived) Name() string { return "message" }
func (Receipt) Name() string         { return "receipt" }
func (StateChanged) Name() string    { return "state" }
func (Disconnected) Name() string    { return "disconnected" }
