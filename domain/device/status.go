package device

import (
	"github.com/wagate/wagate/domain"
)

// Status is where a device is in its life. Its value is what the Socket.io `state` event
// and the REST `status` field carry. It is a struct so that no code outside this package
// can forge one from an arbitrary string: use the variables below or ParseStatus.
type Status struct{ name string }

var (
	// StatusCreated: the device exists but was never connected.
	StatusCreated = Status{"created"}
	// StatusConnecting: a session is starting, resuming a stored login or reconnecting after a drop.
	StatusConnecting = Status{"connecting"}
	// StatusPairing: waiting for the phone to scan a QR code or enter a pairing code.
	StatusPairing = Status{"pairing"}
	// StatusAuthenticated: the phone accepted the link; the session is finishing its login.
	StatusAuthenticated = Status{"authenticated"}
	// StatusReady: logged in and connected; messages flow both ways.
	StatusReady = Status{"ready"}
	// StatusDisconnected: not connected, either stopped on request or after a failure that
	// is not retried; a linked session is kept and connecting again resumes it.
	StatusDisconnected = Status{"disconnected"}
	// StatusLoggedOut: the link was removed (by the API or from the phone); connecting
	// again starts a new pairing.
	StatusLoggedOut = Status{"logged_out"}
	// StatusFailed: WhatsApp refused the session (ban, outdated client, connect failure).
	StatusFailed = Status{"failed"}
)

// Statuses lists every status, in life order.
var Statuses = []Status{
	StatusCreated, StatusConnecting, StatusPairing, StatusAuthenticated,
	StatusReady, StatusDisconnected, StatusLoggedOut, StatusFailed,
}

// transitions is the whole state machine: from each status, the statuses it may move to.
// Anything not listed is refused. A test walks every pair of statuses against it.
var transitions = map[Status][]Status{
	StatusCreated:       {StatusConnecting},
	StatusConnecting:    {StatusPairing, StatusReady, StatusDisconnected, StatusLoggedOut, StatusFailed},
	StatusPairing:       {StatusConnecting, StatusAuthenticated, StatusDisconnected, StatusFailed},
	StatusAuthenticated: {StatusConnecting, StatusReady, StatusDisconnected, StatusLoggedOut, StatusFailed},
	StatusReady:         {StatusConnecting, StatusDisconnected, StatusLoggedOut, StatusFailed},
	StatusDisconnected:  {StatusConnecting, StatusLoggedOut},
	StatusLoggedOut:     {StatusConnecting},
	StatusFailed:        {StatusConnecting, StatusLoggedOut},
}

// CanTransition reports whether the state machine allows moving from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ParseStatus turns a status name into a Status.
func ParseStatus(name string) (Status, error) {
	for _, s := range Statuses {
		if s.name == name {
			return s, nil
		}
	}
	return Status{}, domain.Errorf(domain.KindInvalid, "unknown status %q", name)
}

func (s Status) String() string { return s.name }

// IsZero reports whether s is the zero Status, which is not a valid status.
func (s Status) IsZero() bool { return s.name == "" }

// Live reports whether a device in this status has (or is establishing) a session,
// which is what a restart restores.
func (s Status) Live() bool {
	return s == StatusConnecting || s == StatusPairing || s == StatusAuthenticated || s == StatusReady
}
