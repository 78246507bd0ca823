package application_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

type fixture struct {
	app  application.App
	repo *memory.Repository
	wa   *memory.WhatsApp
	pub  *memory.Publisher
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{repo: memory.NewRepository(), wa: memory.NewWhatsApp(), pub: memory.NewPublisher()}
	f.app = application.New(f.repo, memory.NewKeys(), f.wa, f.pub, memory.NewFetcher(), time.Now, quiet())
	return f
}

var ctx = context.Background()

func (f fixture) create(t *testing.T, name string) application.Device {
	t.Helper()
	d, err := f.app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// names lists published events as "name" or "state:status", for one device.
func (f fixture) names(id string) []string {
	var out []string
	for _, e := range f.pub.Events() {
		if e.Head().DeviceID.String() != id {
			continue
		}
		n := e.Name()
		if sc, ok := e.(device.StateChanged); ok {
			n += ":" + sc.Status.String()
		}
		out = append(out, n)
	}
	return out
}

func (f fixture) status(t *testing.T, id string) string {
	t.Helper()
	d, err := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func TestCreateGetRenameDelete(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "  Sales ")
	if d.Name != "Sales" || d.Status != "created" || d.ID == "" {
		t.Fatalf("created %+v", d)
	}
	got, err := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: strings.ToUpper(d.ID)})
	if err != nil || got != d {
		t.Fatalf("get by upper-case id: %+v, %v", got, err)
	}
	renamed, err := f.app.Commands.RenameDevice.Handle(ctx, application.RenameDevice{ID: d.ID, Name: "Support"})
	if err != nil || renamed.Name != "Support" {
		t.Fatalf("rename: %+v, %v", renamed, err)
	}
	if _, err := f.app.Commands.RenameDevice.Handle(ctx, application.RenameDevice{ID: d.ID, Name: ""}); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("rename to empty: %v", err)
	}
	if err := f.app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if !f.wa.Removed(device.ID(d.ID)) {
		t.Fatal("delete did not remove the WhatsApp session data")
	}
	if _, err := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: d.ID}); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("get after delete: %v", err)
	}
	if len(f.pub.Events()) != 0 {
		t.Fatalf("events for a device that never connected: %v", f.names(d.ID))
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"", strings.Repeat("x", 101)} {
		if _, err := f.app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: name}); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("create %q: %v", name, err)
		}
	}
	for _, id := range []string{"", "nope", "00000000-0000-0000-0000-00000000000g"} {
		if _, err := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: id}); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("get %q: %v", id, err)
		}
		if err := f.app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: id}); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("delete %q: %v", id, err)
		}
	}
	page, err := f.app.Queries.ListDevices.Handle(ctx, application.ListDevices{})
	if err != nil || page.Total != 0 {
		t.Fatalf("after rejected requests: %+v, %v", page, err)
	}
}

func TestListDevices(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		ids = append(ids, f.create(t, name).ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, ids[1], "qr")
	page, err := f.app.Queries.ListDevices.Handle(ctx, application.ListDevices{Limit: 2})
	if err != nil || page.Total != 3 || len(page.Devices) != 2 || page.Devices[0].ID != ids[0] || page.Limit != 2 {
		t.Fatalf("first page %+v, %v", page, err)
	}
	page, err = f.app.Queries.ListDevices.Handle(ctx, application.ListDevices{Statuses: []string{"pairing", "ready"}})
	if err != nil || page.Total != 1 || page.Devices[0].ID != ids[1] || page.Limit != application.DefaultPageSize {
		t.Fatalf("pairing or ready: %+v, %v", page, err)
	}
	for _, q := range []application.ListDevices{{Limit: -1}, {Limit: application.MaxPageSize + 1}, {Offset: -1}, {Statuses: []string{"bogus"}}} {
		if _, err := f.app.Queries.ListDevices.Handle(ctx, q); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("list %+v: %v, want invalid", q, err)
		}
	}
}

func TestLinkFlow(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	id := device.ID(d.ID)
	got, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID})
	if err != nil || got.Status != "connecting" {
		t.Fatalf("connect: %+v, %v", got, err)
	}
	waitFor(t, f, d.ID, "qr")
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("second connect: %v, want conflict", err)
	}
	link, err := f.wa.Scan(id, "15551234567", "Ann")
	if err != nil {
		t.Fatal(err)
	}
	if !f.wa.Linked(link.JID) {
		t.Fatal("the link was not stored")
	}
	if s := f.status(t, d.ID); s != "ready" {
		t.Fatalf("after scan: %s", s)
	}
	if err := f.wa.SetPushName(id, "Ann B"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: d.ID}); got.PushName != "Ann B" {
		t.Fatalf("push name after a profile update: %q", got.PushName)
	}
	if err := f.wa.Deliver(id, message.Message{ID: "m1", Text: "hi", Type: message.TypeText}); err != nil {
		t.Fatal(err)
	}
	if err := f.wa.Drop(id, device.ReasonConnectionLost, true); err != nil {
		t.Fatal(err)
	}
	out, err := f.app.Commands.LogoutDevice.Handle(ctx, application.LogoutDevice{ID: d.ID})
	if err != nil || out.Status != "logged_out" || out.PhoneNumber != "" {
		t.Fatalf("logout: %+v, %v", out, err)
	}
	want := "state:connecting state:pairing qr state:authenticated authenticated state:ready ready message " +
		"state:connecting disconnected state:ready ready state:logged_out disconnected"
	if got := strings.Join(f.names(d.ID), " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	for _, e := range f.pub.Events() {
		if a, ok := e.(device.Authenticated); ok && (a.PhoneNumber != "15551234567" || a.ClientName != "Ann") {
			t.Fatalf("authenticated %+v", a)
		}
		if m, ok := e.(device.MessageReceived); ok && m.Message.Text != "hi" {
			t.Fatalf("message %+v", m)
		}
	}
	if f.wa.Connected(id) || f.wa.Linked(link.JID) {
		t.Fatal("logout left the session or its link behind")
	}
	if _, err := f.app.Commands.LogoutDevice.Handle(ctx, application.LogoutDevice{ID: d.ID}); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("second logout: %v, want conflict", err)
	}
}

func TestReconnectResumesStoredLink(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	connect := func() {
		t.Helper()
		if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
	}
	connect()
	waitFor(t, f, d.ID, "qr")
	if _, err := f.wa.Scan(device.ID(d.ID), "1555", "Ann"); err != nil {
		t.Fatal(err)
	}
	out, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID})
	if err != nil || out.Status != "disconnected" || out.LastDisconnectReason != "stopped" || out.PhoneNumber != "1555" {
		t.Fatalf("disconnect: %+v, %v", out, err)
	}
	if _, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID}); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("second disconnect: %v", err)
	}
	connect()
	waitFor(t, f, d.ID, "state:ready")
	if n := strings.Count(strings.Join(f.names(d.ID), " "), "qr"); n != 1 {
		t.Fatalf("%d QR codes; the stored link should have been resumed", n)
	}
}

func TestConnectFailureMarksFailed(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	f.wa.FailNextConnect(errors.New("store broken"))
	_, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID})
	if domain.KindOf(err) != domain.KindUnavailable || strings.Contains(domain.MessageOf(err), "store broken") {
		t.Fatalf("connect: kind %s, message %q", domain.KindOf(err), domain.MessageOf(err))
	}
	got, _ := f.app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: d.ID})
	if got.Status != "failed" || got.LastDisconnectReason != "connect_failure" {
		t.Fatalf("after failed connect: %+v", got)
	}
}

func TestLateSessionNewsIsIgnored(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, d.ID, "qr")
	if _, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	before := len(f.pub.Events())
	// A report that was already on its way when the device was stopped.
	f.app.Commands.Sessions.HandleSession(ctx, device.ID(d.ID), device.SessionConnected{})
	if s := f.status(t, d.ID); s != "disconnected" || len(f.pub.Events()) != before {
		t.Fatalf("late news changed the device to %s or published %v", s, f.names(d.ID)[before:])
	}
}

func TestDeleteLiveDeviceTellsListeners(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, d.ID, "qr")
	if err := f.app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	events := f.pub.Events()
	last, ok := events[len(events)-1].(device.Disconnected)
	if !ok || last.Reason != device.ReasonDeleted {
		t.Fatalf("last event %+v, want disconnected: deleted", events[len(events)-1])
	}
	if f.wa.Connected(device.ID(d.ID)) {
		t.Fatal("session still running after delete")
	}
}

func waitFor(t *testing.T, f fixture, id, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := f.pub.Wait(c, func([]device.Event) bool {
		for _, n := range f.names(id) {
			if n == name {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; got %v", name, err, f.names(id))
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
