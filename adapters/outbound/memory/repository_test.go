package memory_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/device/devicetest"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/key/keytest"
	"github.com/wagate/wagate/domain/message"
)

func TestRepository(t *testing.T) {
	devicetest.RunRepositoryContract(t, func(*testing.T) device.Repository { return memory.NewStore().Devices })
}

func TestKeys(t *testing.T) {
	keytest.RunRepositoryContract(t, func(*testing.T) key.Repository { return memory.NewKeys() })
}

// The repository and the message store append to the store's one log, with the change.
func TestStoreLogsChanges(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d, err := device.New("Phone", now)
	if err != nil {
		t.Fatal(err)
	}
	d.PullEvents()
	if err := s.Devices.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Devices.Update(ctx, d.ID(), func(d *device.Device) error { return d.Connect(now) }); err != nil {
		t.Fatal(err)
	}
	m := device.NewMessageReceived(d.ID(), message.Message{ID: "m1", Chat: "1@s.whatsapp.net"}, now)
	for i, want := range []bool{true, false} {
		if added, err := s.Messages.Receive(ctx, m, nil); err != nil || added != want {
			t.Fatalf("delivery %d: added %v, %v; want %v", i+1, added, err, want)
		}
	}
	if err := s.Devices.Delete(ctx, d.ID(), func(d *device.Device) error { d.Remove(now); return nil }); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Log.Read(ctx, device.LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range recs {
		if r.ID != device.EventID(i+1) || r.DeviceID != d.ID() {
			t.Fatalf("record %d: id %d of %s", i, r.ID, r.DeviceID)
		}
		got = append(got, r.Name)
	}
	if strings.Join(got, " ") != "state message disconnected" {
		t.Fatalf("logged %v", got)
	}
	if h, err := s.Messages.History(ctx, d.ID(), device.HistoryQuery{Limit: 10}); err != nil || len(h.Messages) != 0 {
		t.Fatalf("messages of a deleted device: %d, %v", len(h.Messages), err)
	}
}
