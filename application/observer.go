package application

import (
	"context"
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Observer is told what the use cases do that an operator watches (metrics). Its methods
// are called on hot paths: they must return at once.
type Observer interface {
	// MessageSent: a send call to WhatsApp returned after took, with err (nil: accepted).
	MessageSent(took time.Duration, err error)
	// LeaseChanged: this instance claimed, released or lost a device's lease.
	LeaseChanged(change LeaseChange)
	// WebhookAttempted: an attempt to deliver an event to a webhook ended with status
	// (delivered, failed or dead) after took.
	WebhookAttempted(status string, took time.Duration)
}

// LeaseChange is what happened to a lease held by this instance.
type LeaseChange string

const (
	LeaseClaimed  LeaseChange = "claimed"  // taken, to run the device's session here
	LeaseReleased LeaseChange = "released" // let go: the session stopped, or the instance shuts down
	LeaseLost     LeaseChange = "lost"     // taken over by another instance, or not renewed in time
)

// NoObserver observes nothing.
type NoObserver struct{}

func (NoObserver) MessageSent(time.Duration, error)       {}
func (NoObserver) LeaseChanged(LeaseChange)               {}
func (NoObserver) WebhookAttempted(string, time.Duration) {}

// CountDevicesHandler counts the devices in each status (a status without devices may
// be absent).
type CountDevicesHandler struct {
	repo device.Repository
}

func (h CountDevicesHandler) Handle(ctx context.Context) (map[device.Status]int, error) {
	return h.repo.Count(ctx)
}
