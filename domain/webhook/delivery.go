package webhook

import (
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Status is what became of one attempt to deliver an event.
type Status string

const (
	// Delivered: the receiver answered 2xx.
	Delivered Status = "delivered"
	// Failed: it did not; another attempt follows at NextAttempt.
	Failed Status = "failed"
	// Dead: it did not, and the event's retry window is over: it is a dead letter, sent
	// again only when redelivered.
	Dead Status = "dead"
	// Requeued: a dead letter queued for redelivery; the next attempt is a new Delivery.
	Requeued Status = "requeued"
	// Retried: a dead letter that was redelivered.
	Retried Status = "retried"
)

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	ID          int64
	Webhook     ID
	EventID     device.EventID
	Event       string
	DeviceID    device.ID
	Attempt     int // 1 for the first attempt of the event
	Status      Status
	Code        int    // the receiver's HTTP status; 0 when none came
	Error       string // why it failed, without the receiver's body
	Latency     time.Duration
	At          time.Time
	NextAttempt time.Time // Failed: when the next attempt is due
}
