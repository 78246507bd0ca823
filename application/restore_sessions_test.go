package application_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
)

func TestRestoreSessions(t *testing.T) {
	f := newFixture(t)
	ready := f.create(t, "ready")
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: ready.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, ready.ID, "qr")
	if _, err := f.wa.Scan(device.ID(ready.ID), "1555", "Ann"); err != nil {
		t.Fatal(err)
	}
	stopped := f.create(t, "stopped")
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: stopped.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: stopped.ID}); err != nil {
		t.Fatal(err)
	}
	never := f.create(t, "never connected")

	// The gateway restarts: sessions are gone, devices keep their state.
	for _, id := range []string{ready.ID, stopped.ID} {
		f.wa.Disconnect(ctx, device.ID(id))
	}
	started := time.Now()
	time.Sleep(time.Millisecond)
	r, err := f.app.Commands.RestoreSessions.Handle(ctx, application.RestoreSessions{StartedAt: started})
	if err != nil || r != (application.Restored{Started: 1}) {
		t.Fatalf("restored %+v, %v", r, err)
	}
	for deadline := time.Now().Add(5 * time.Second); f.status(t, ready.ID) != "ready"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ready device is %s after restore", f.status(t, ready.ID))
		}
	}
	if !f.wa.Connected(device.ID(ready.ID)) {
		t.Fatal("no session after restore")
	}
	if f.status(t, stopped.ID) != "disconnected" || f.status(t, never.ID) != "created" || f.wa.Connected(device.ID(stopped.ID)) {
		t.Fatal("restore touched a stopped or new device")
	}
	if n := strings.Count(strings.Join(f.names(ready.ID), " "), "qr"); n != 1 {
		t.Fatalf("restoring asked for a QR code again (%d in all)", n)
	}
}

func TestRestoreLeavesDevicesChangedSinceStart(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "busy")
	started := time.Now().Add(-time.Minute) // this device was connected after the start
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, d.ID, "qr")
	r, err := f.app.Commands.RestoreSessions.Handle(ctx, application.RestoreSessions{StartedAt: started})
	if err != nil || r != (application.Restored{Skipped: 1}) {
		t.Fatalf("restored %+v, %v", r, err)
	}
	if s := f.status(t, d.ID); s != "pairing" {
		t.Fatalf("device is %s", s)
	}
}

// stuckWhatsApp never returns from Connect for one device.
type stuckWhatsApp struct {
	device.WhatsAppClient
	stuck device.ID
}

func (w stuckWhatsApp) Connect(ctx context.Context, s device.Session, h device.SessionHandler) error {
	if s.DeviceID == w.stuck {
		select {}
	}
	return w.WhatsAppClient.Connect(ctx, s, h)
}

func TestRestoreIsNotHeldUpByAStuckDevice(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 5 {
		d := f.create(t, "d")
		if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, f, d.ID, "qr")
		f.wa.Disconnect(ctx, device.ID(d.ID))
		ids = append(ids, d.ID)
	}
	app := application.New(f.repo, f.store.Messages, f.store.Log, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming}, memory.NewKeys(), stuckWhatsApp{f.wa, device.ID(ids[0])}, f.pub, nil, memoryHooks(), time.Now, application.NoObserver{}, quiet())
	r, err := app.Commands.RestoreSessions.Handle(ctx, application.RestoreSessions{
		StartedAt: time.Now(), Concurrency: 1, Timeout: 100 * time.Millisecond,
	})
	if err != nil || r.Started != 4 || r.Failed != 1 {
		t.Fatalf("restored %+v, %v", r, err)
	}
	for _, id := range ids[1:] {
		if !f.wa.Connected(device.ID(id)) {
			t.Fatalf("%s not restored behind the stuck device", id)
		}
	}
}
