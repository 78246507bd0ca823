package webhook_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// The signature receivers check, computed here with Python's hmac module: a change to
// what is signed breaks every receiver.
func TestSignature(t *testing.T) {
	got := webhook.Signature("whsec_test", time.Unix(1764460800, 0), []byte(`{"event":"ping","eventId":"0","data":{}}`))
	if want := "sha256=896188aac9b86d44a4d73e225af189f341ce6173b00165878f7cd47e02093235"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewAndChange(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, s := range []webhook.Settings{
		{},
		{URL: ptr("example.com/hook")},
		{URL: ptr("ftp://example.com/")},
		{URL: ptr("https://example.com/#frag")},
		{URL: ptr("https://" + strings.Repeat("a", webhook.MaxURLLength) + ".com/")},
		{URL: ptr("https://example.com/"), Events: ptr([]string{"messages"})},
		{URL: ptr("https://example.com/"), Secret: ptr("too-short")},
		{URL: ptr("https://example.com/"), Devices: ptr(make([]device.ID, webhook.MaxDevices+1))},
	} {
		if _, err := webhook.New(s, 0, now); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("New(%+v): %v, want invalid", s, err)
		}
	}
	dev := device.NewID(now)
	w, err := webhook.New(webhook.Settings{URL: ptr("https://example.com/in"), Events: ptr([]string{"state", "message", "state"}), Devices: ptr([]device.ID{dev, dev})}, 41, now)
	if err != nil {
		t.Fatal(err)
	}
	s := w.Snapshot()
	if !slices.Equal(s.Events, []string{"message", "state"}) || len(s.Devices) != 1 || !s.Enabled || s.Cursor != 41 ||
		!strings.HasPrefix(s.Secret, webhook.SecretPrefix) || len(s.Secret) != len(webhook.SecretPrefix)+43 {
		t.Fatalf("new webhook %+v", s)
	}
	if _, err := webhook.ParseID(w.ID().String()); err != nil {
		t.Fatalf("its own id: %v", err)
	}
	for _, r := range []struct {
		name string
		dev  device.ID
		want bool
	}{{"message", dev, true}, {"state", dev, true}, {"qr", dev, false}, {"message", device.NewID(now.Add(time.Second)), false}} {
		if got := w.Wants(device.Record{Name: r.name, DeviceID: r.dev}); got != r.want {
			t.Errorf("wants %s of %s: %v", r.name, r.dev, got)
		}
	}
	before := w.Snapshot()
	if err := w.Change(webhook.Settings{Enabled: ptr(false), URL: ptr("nope")}, now.Add(time.Hour)); err == nil {
		t.Fatal("a bad URL was taken")
	}
	if got := w.Snapshot(); !slices.Equal(got.Events, before.Events) || got.URL != before.URL || !got.Enabled || !got.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("a failed change changed the webhook: %+v", got)
	}
	if err := w.Change(webhook.Settings{Events: ptr([]string{}), Devices: ptr([]device.ID{})}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !w.Wants(device.Record{Name: "qr", DeviceID: device.NewID(now)}) {
		t.Fatal("emptied filters should let every event through")
	}
	for _, id := range []string{"", "wh_", "wh_0123456789ABCDEF", "k_0123456789abcdef", "wh_0123456789abcdeg"} {
		if _, err := webhook.ParseID(id); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("ParseID(%q): %v", id, err)
		}
	}
}
