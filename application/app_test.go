package application_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	app   application.App
	store memory.Store
	repo  *memory.Repository
	wa    *memory.WhatsApp
	pub   *memory.Publisher
}

// newFixture builds the application on memory adapters, with its feed running: events
// reach pub once committed.
func newFixture(t *testing.T) fixture {
	t.Helper()
	store := memory.NewStore()
	f := fixture{store: store, repo: store.Devices, wa: memory.NewWhatsApp(), pub: memory.NewPublisher()}
	f.app = runFeed(t, func(events device.EventLog) application.App {
		return application.New(f.repo, store.Messages, events, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming}, memory.NewKeys(), f.wa, f.pub, memory.NewFetcher(), memoryHooks(), time.Now, application.NoObserver{}, quiet())
	}, store.Log)
	return f
}

// runFeed builds an app with build over events and runs its feed for the test. It
// returns once the feed knows where the log ends: the feed delivers what is committed
// after that, so a test that committed events before would never see them published.
func runFeed(t *testing.T, build func(device.EventLog) application.App, events device.EventLog) application.App {
	t.Helper()
	app := build(events)
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); app.Commands.Feed.Run(c) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-app.Commands.Feed.Started():
	case <-time.After(5 * time.Second):
		t.Fatal("the feed did not start")
	}
	return app
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

// flush waits until every event committed so far has been published.
func (f fixture) flush(t *testing.T) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.app.Commands.Feed.Flush(c); err != nil {
		t.Fatal(err)
	}
}

// names lists published events as "name" or "state:status", for one device.
func (f fixture) names(id string) []string {
	return names(f.pub.Events(), id)
}

func names(records []device.Record, id string) []string {
	var out []string
	for _, r := range records {
		if r.DeviceID.String() != id {
			continue
		}
		n := r.Name
		if n == "state" {
			n += ":" + payloadOf(r)["status"].(string)
		}
		out = append(out, n)
	}
	return out
}

// payloadOf decodes the payload of a record.
func payloadOf(r device.Record) map[string]any {
	var p map[string]any
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		panic(fmt.Sprintf("payload of event %d is not a JSON object: %q", r.ID, r.Payload))
	}
	return p
}

// logged reads the whole event log.
func (f fixture) logged(t *testing.T) []device.Record {
	t.Helper()
	recs, err := f.store.Log.Read(ctx, device.LogQuery{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return recs
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
	// Even a device that never connected tells its listeners it is gone, so that they
	// are let go.
	if recs := f.logged(t); len(recs) != 1 || recs[0].Name != "disconnected" || payloadOf(recs[0])["reason"] != "deleted" {
		t.Fatalf("events of a deleted device that never connected: %v, want disconnected (deleted)", names(recs, d.ID))
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
	f.flush(t)
	want := "state:connecting state:pairing qr state:authenticated authenticated state:ready ready message " +
		"state:connecting disconnected state:ready ready state:logged_out disconnected"
	if got := strings.Join(f.names(d.ID), " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	for _, r := range f.pub.Events() {
		p := payloadOf(r)
		if r.Name == "authenticated" && (p["phoneNumber"] != "15551234567" || p["clientName"] != "Ann") {
			t.Fatalf("authenticated %s", r.Payload)
		}
		if m, _ := p["message"].(map[string]any); r.Name == "message" && m["text"] != "hi" {
			t.Fatalf("message %s", r.Payload)
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
	before := len(f.logged(t))
	// A report that was already on its way when the device was stopped.
	if err := f.app.Commands.Sessions.HandleSession(ctx, device.ID(d.ID), device.SessionConnected{}); err != nil {
		t.Fatalf("late news is not an error: %v", err)
	}
	if s, recs := f.status(t, d.ID), f.logged(t); s != "disconnected" || len(recs) != before {
		t.Fatalf("late news changed the device to %s or logged %v", s, names(recs[before:], d.ID))
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
	f.flush(t)
	events := f.pub.Events()
	last := events[len(events)-1]
	if last.Name != "disconnected" || payloadOf(last)["reason"] != string(device.ReasonDeleted) {
		t.Fatalf("last event %s %s, want disconnected: deleted", last.Name, last.Payload)
	}
	if f.wa.Connected(device.ID(d.ID)) {
		t.Fatal("session still running after delete")
	}
}

func waitFor(t *testing.T, f fixture, id, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := f.pub.Wait(c, func(published []device.Record) bool {
		for _, n := range names(published, id) {
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

// memoryHooks are the webhook ports in memory, for tests that do not look at webhooks.
func memoryHooks() application.WebhookPorts {
	w := memory.NewWebhooks()
	return application.WebhookPorts{Webhooks: w, Deliveries: w.Deliveries(), Sender: memory.NewSender()}
}
