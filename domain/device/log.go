package device

import (
	"context"
	"strconv"
	"time"

	"github.com/wagate/wagate/domain"
)

// EventID numbers an event in the gateway's event log. Ids grow in the order the events
// were committed, across all devices, so they order one device's events and the
// stream of every device alike. On the wire it is a string (see String).
type EventID int64

// ParseEventID reads an event id as clients send it back: "" is the start of the log.
func ParseEventID(s string) (EventID, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.KindInvalid, "event id must be a non-negative integer, got %q", s)
	}
	return EventID(n), nil
}

func (id EventID) String() string { return strconv.FormatInt(int64(id), 10) }

// Record is an event as the log keeps it. Payload is the event's JSON payload exactly
// as listeners get it, its eventId included.
type Record struct {
	ID       EventID
	DeviceID ID
	Name     string
	At       time.Time
	Payload  []byte
}

// NewRecord numbers event e and encodes its payload.
func NewRecord(e Event, id EventID) (Record, error) {
	p, err := EncodePayload(e, id)
	if err != nil {
		return Record{}, err
	}
	h := e.Head()
	return Record{ID: id, DeviceID: h.DeviceID, Name: e.Name(), At: h.At, Payload: p}, nil
}

// LogQuery selects records of the log: those after After, oldest first, of Devices
// (every device when nil), at most Limit.
type LogQuery struct {
	After   EventID
	Devices []ID
	Limit   int
}

// EventLog reads the durable log of every device's events. Events enter it with the
// change that caused them, in the same transaction: through Repository.Update and
// Delete, and Messages.Receive.
type EventLog interface {
	Read(ctx context.Context, q LogQuery) ([]Record, error)
	// Last is the id of the newest event, 0 when the log is empty.
	Last(ctx context.Context) (EventID, error)
	// Prune deletes up to limit events older than before, oldest first, and reports how
	// many it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}
