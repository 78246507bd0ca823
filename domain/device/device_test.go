package device

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newDevice(t *testing.T) *Device {
	t.Helper()
	d, err := New("Support", t0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// in returns a linked device in the given status, as if loaded from storage.
func in(s Status) *Device {
	return Rehydrate(Snapshot{ID: NewID(t0), Name: "x", Status: s, JID: "1555.0:2@s.whatsapp.net", PhoneNumber: "1555", CreatedAt: t0, UpdatedAt: t0})
}

func TestNewValidatesName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"  Sales  ", "Sales"},
		{strings.Repeat("é", MaxNameLength), strings.Repeat("é", MaxNameLength)},
	} {
		d, err := New(tc.name, t0)
		if err != nil || d.Snapshot().Name != tc.want {
			t.Errorf("New(%q) = %v, %v", tc.name, d, err)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("a", MaxNameLength+1), "a\x00b", "line\nbreak", "\xff"} {
		if _, err := New(bad, t0); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("New(%q) error = %v, want invalid", bad, err)
		}
	}
}

func TestNewDevice(t *testing.T) {
	d := newDevice(t)
	s := d.Snapshot()
	if s.Status != StatusCreated || !s.CreatedAt.Equal(t0) || !s.UpdatedAt.Equal(t0) || s.JID != "" {
		t.Fatalf("new device %+v", s)
	}
	if _, err := ParseID(s.ID.String()); err != nil {
		t.Fatalf("new id %q does not parse: %v", s.ID, err)
	}
	if ev := d.PullEvents(); len(ev) != 0 {
		t.Fatalf("new device has events %v", ev)
	}
}

// TestMethodsFollowTable tries every status-changing method from every status: each
// either succeeds along an allowed transition (recording exactly one state event when the
// status changes) or fails with a conflict and changes nothing.
func TestMethodsFollowTable(t *testing.T) {
	methods := map[string]func(*Device) error{
		"Connect":        func(d *Device) error { return d.Connect(t0) },
		"Disconnect":     func(d *Device) error { return d.Disconnect(t0) },
		"ShowQR":         func(d *Device) error { return d.ShowQR("2@q", t0.Add(time.Minute), t0) },
		"Authenticate":   func(d *Device) error { return d.Authenticate(Link{JID: "1.0:1@s.whatsapp.net"}, t0) },
		"MarkReady":      func(d *Device) error { return d.MarkReady("", t0) },
		"LoseConnection": func(d *Device) error { return d.LoseConnection(ReasonConnectionLost, t0) },
		"Stop":           func(d *Device) error { return d.Stop(ReasonQRTimeout, t0) },
		"Fail":           func(d *Device) error { return d.Fail(ReasonTemporaryBan, t0.Add(time.Hour), t0) },
		"LogOut":         func(d *Device) error { return d.LogOut(ReasonLoggedOut, t0) },
	}
	for _, from := range Statuses {
		for name, method := range methods {
			d := in(from)
			before := d.Snapshot()
			err := method(d)
			after := d.Snapshot()
			events := d.PullEvents()
			if err != nil {
				if domain.KindOf(err) != domain.KindConflict {
					t.Errorf("%s from %s: error %v is not a conflict", name, from, err)
				}
				if after != before || len(events) != 0 {
					t.Errorf("%s from %s failed but changed the device or recorded %v", name, from, events)
				}
				continue
			}
			states := 0
			for _, e := range events {
				if sc, ok := e.(StateChanged); ok {
					states++
					if sc.Status != after.Status {
						t.Errorf("%s from %s: state event %s, device %s", name, from, sc.Status, after.Status)
					}
				}
			}
			switch {
			case after.Status == from && states != 0:
				t.Errorf("%s from %s: no status change but %d state events", name, from, states)
			case after.Status != from && (!CanTransition(from, after.Status) || states != 1):
				t.Errorf("%s: %s -> %s with %d state events, table allows it: %v", name, from, after.Status, states, CanTransition(from, after.Status))
			}
		}
	}
}

func TestLinkingFlowEvents(t *testing.T) {
	d := newDevice(t)
	steps := []struct {
		do   func() error
		want []string
	}{
		{func() error { return d.Connect(t0) }, []string{"state:created>connecting(connect)"}},
		{func() error { return d.ShowQR("2@a", t0.Add(time.Minute), t0) }, []string{"state:connecting>pairing(qr)", "qr"}},
		{func() error { return d.ShowQR("2@b", t0.Add(2*time.Minute), t0.Add(time.Minute)) }, []string{"qr"}},
		{func() error {
			return d.Authenticate(Link{JID: "15551234567.0:7@s.whatsapp.net", PhoneNumber: "15551234567", PushName: "Ann"}, t0)
		}, []string{"state:pairing>authenticated(paired)", "authenticated"}},
		{func() error { return d.MarkReady("", t0) }, []string{"state:authenticated>ready(logged_in)", "ready"}},
		{func() error { return d.LoseConnection(ReasonConnectionLost, t0) }, []string{"state:ready>connecting(connection_lost)", "disconnected"}},
		{func() error { return d.LoseConnection(ReasonConnectionLost, t0) }, nil},
		{func() error { return d.MarkReady("", t0) }, []string{"state:connecting>ready(logged_in)", "ready"}},
		{func() error { return d.LogOut(ReasonLoggedOut, t0) }, []string{"state:ready>logged_out(logged_out)", "disconnected"}},
	}
	for i, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got []string
		recorded := d.Recorded()
		pulled := d.PullEvents()
		if len(recorded) != len(pulled) || len(d.Recorded()) != 0 {
			t.Fatalf("step %d: %d events recorded, %d pulled, %d left", i, len(recorded), len(pulled), len(d.Recorded()))
		}
		for _, e := range pulled {
			name := e.Name()
			if sc, ok := e.(StateChanged); ok {
				name += ":" + sc.From.String() + ">" + sc.Status.String() + "(" + sc.Cause + ")"
			}
			got = append(got, name)
		}
		if strings.Join(got, ",") != strings.Join(step.want, ",") {
			t.Fatalf("step %d events %v, want %v", i, got, step.want)
		}
	}
	if s := d.Snapshot(); s.JID != "" || s.PhoneNumber != "" || s.LastDisconnectReason != ReasonLoggedOut {
		t.Fatalf("after logout %+v", s)
	}
}

func TestAuthenticatedPayload(t *testing.T) {
	for _, tc := range []struct {
		link Link
		want string
	}{
		{Link{JID: "1.0:1@s.whatsapp.net", PhoneNumber: "1", PushName: "Ann", BusinessName: "Ann's Bakery"}, "Ann's Bakery"},
		{Link{JID: "1.0:1@s.whatsapp.net", PhoneNumber: "1", PushName: "Ann"}, "Ann"},
	} {
		d := in(StatusPairing)
		if err := d.Authenticate(tc.link, t0); err != nil {
			t.Fatal(err)
		}
		ev := d.PullEvents()
		a, ok := ev[len(ev)-1].(Authenticated)
		if !ok || a.ClientName != tc.want || a.PhoneNumber != "1" || a.DeviceID != d.ID() || !a.At.Equal(t0) {
			t.Fatalf("authenticated event %+v, want client name %q", ev[len(ev)-1], tc.want)
		}
	}
}

func TestCurrentQR(t *testing.T) {
	d := newDevice(t)
	if _, _, ok := d.CurrentQR(t0); ok {
		t.Fatal("new device has a QR code")
	}
	_ = d.Connect(t0)
	_ = d.ShowQR("2@a", t0.Add(time.Minute), t0)
	if code, _, ok := d.CurrentQR(t0.Add(59 * time.Second)); !ok || code != "2@a" {
		t.Fatalf("CurrentQR before expiry = %q, %v", code, ok)
	}
	if _, _, ok := d.CurrentQR(t0.Add(time.Minute)); ok {
		t.Fatal("expired QR code still current")
	}
	_ = d.Disconnect(t0)
	if _, _, ok := d.CurrentQR(t0); ok || d.Snapshot().QR != "" {
		t.Fatal("QR code kept after leaving pairing")
	}
	if err := d.Apply(SessionQR{Code: "2@late", ExpiresAt: t0.Add(time.Minute)}, t0); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("late QR after disconnect: %v, want conflict", err)
	}
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		from Status
		ev   SessionEvent
		want Status
	}{
		{StatusConnecting, SessionQR{Code: "2@x", ExpiresAt: t0.Add(time.Minute)}, StatusPairing},
		{StatusPairing, SessionPaired{Link: Link{JID: "1.0:1@s.whatsapp.net"}}, StatusAuthenticated},
		{StatusAuthenticated, SessionConnected{}, StatusReady},
		{StatusReady, SessionDisconnected{Reason: ReasonConnectionLost, Reconnecting: true}, StatusConnecting},
		{StatusPairing, SessionDisconnected{Reason: ReasonQRTimeout}, StatusDisconnected},
		{StatusReady, SessionLoggedOut{Reason: ReasonLoggedOut}, StatusLoggedOut},
		{StatusReady, SessionFailed{Reason: ReasonStreamReplaced}, StatusFailed},
		{StatusReady, SessionProfile{PushName: "Ann B"}, StatusReady},
	} {
		d := in(tc.from)
		if err := d.Apply(tc.ev, t0); err != nil || d.Status() != tc.want {
			t.Errorf("Apply(%T) from %s: status %s, err %v; want %s", tc.ev, tc.from, d.Status(), err, tc.want)
		}
	}
	d := in(StatusReady)
	if err := d.Apply(SessionProfile{PushName: "Ann B"}, t0.Add(time.Hour)); err != nil || d.Snapshot().PushName != "Ann B" || len(d.PullEvents()) != 0 {
		t.Errorf("profile update: %v, push name %q", err, d.Snapshot().PushName)
	}
	if err := in(StatusReady).Apply(SessionMessage{}, t0); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("Apply(SessionMessage) = %v, want invalid", err)
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(t0), NewID(t0.Add(time.Millisecond))
	if a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
	if a[14] != '7' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("%s is not a version 7 RFC 9562 UUID", a)
	}
	if got, err := ParseID(strings.ToUpper(a.String())); err != nil || got != a {
		t.Errorf("ParseID(upper) = %q, %v", got, err)
	}
	for _, bad := range []string{"", "not-a-uuid", a.String()[:35], a.String() + "0", strings.Replace(a.String(), "-", "x", 1), "../../etc/passwd-0000-0000-000000000"} {
		if _, err := ParseID(bad); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("ParseID(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	wrapped := errors.Join(errors.New("ctx"), NotFound("x"))
	if domain.KindOf(wrapped) != domain.KindNotFound || domain.MessageOf(wrapped) != "device x not found" {
		t.Fatalf("kind %s message %q", domain.KindOf(wrapped), domain.MessageOf(wrapped))
	}
	if domain.KindOf(errors.New("plain")) != domain.KindInternal || domain.MessageOf(errors.New("plain")) != "" {
		t.Fatal("a plain error must be internal with no safe message")
	}
}
