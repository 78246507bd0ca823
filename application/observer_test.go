package application_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// recordingObserver records what the use cases tell their Observer.
type recordingObserver struct {
	mu       sync.Mutex
	sent     []bool // whether each send succeeded
	leases   []application.LeaseChange
	webhooks []string // the status of each webhook delivery attempt
}

func (o *recordingObserver) WebhookAttempted(status string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.webhooks = append(o.webhooks, status)
}

func (o *recordingObserver) MessageSent(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, err == nil)
}

func (o *recordingObserver) LeaseChanged(c application.LeaseChange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.leases = append(o.leases, c)
}

func (o *recordingObserver) count(c application.LeaseChange) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, l := range o.leases {
		if l == c {
			n++
		}
	}
	return n
}

// TestObserverIsTold checks that sends and the leases of sessions started and stopped
// through the API reach the observer, and the device counts.
func TestObserverIsTold(t *testing.T) {
	store := memory.NewStore()
	wa := memory.NewWhatsApp()
	obs := &recordingObserver{}
	app := runFeed(t, func(events device.EventLog) application.App {
		return application.New(store.Devices, store.Messages, events, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming},
			memory.NewKeys(), wa, memory.NewPublisher(), memory.NewFetcher(), memoryHooks(), time.Now, obs, quiet())
	}, store.Log)
	d, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Idle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := wa.Scan(device.ID(d.ID), "15551234567", "Ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.SendMessage.Handle(ctx, application.SendMessage{DeviceID: d.ID, Message: message.Outgoing{To: "15557654321", Text: "hi"}}); err != nil {
		t.Fatal(err)
	}
	counts, err := app.Queries.CountDevices.Handle(ctx)
	if err != nil || counts[device.StatusReady] != 1 || counts[device.StatusCreated] != 1 || len(counts) != 2 {
		t.Fatalf("device counts %v, %v", counts, err)
	}
	if _, err := app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.sent) != 1 || !obs.sent[0] {
		t.Errorf("sends observed %v, want one that succeeded", obs.sent)
	}
	if len(obs.leases) != 2 || obs.leases[0] != application.LeaseClaimed || obs.leases[1] != application.LeaseReleased {
		t.Errorf("lease changes observed %v, want claimed then released", obs.leases)
	}
}
