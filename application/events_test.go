package application_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// incoming is a message as a session reports it.
func incoming(id, chat string) device.SessionMessage {
	return device.SessionMessage{
		Message: message.Message{ID: id, Chat: chat, Sender: message.Sender{JID: chat}, Type: message.TypeText, Text: "text of " + id},
		Raw:     []byte("raw " + id),
	}
}

func (f fixture) receive(t *testing.T, id string, m device.SessionMessage) {
	t.Helper()
	if err := f.app.Commands.Sessions.HandleSession(ctx, device.ID(id), m); err != nil {
		t.Fatalf("receive %s: %v", m.Message.ID, err)
	}
}

// WhatsApp delivers a message again when it was not acknowledged; the second delivery
// must neither store it again nor tell listeners twice.
func TestMessageDeliveredTwiceIsKeptOnce(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	m := incoming("m1", "1555@s.whatsapp.net")
	f.receive(t, d.ID, m)
	f.receive(t, d.ID, m)
	// The same id from another sender in a group is another message.
	other := incoming("m1", "120363@g.us")
	f.receive(t, d.ID, other)
	f.flush(t)
	if got := names(f.logged(t), d.ID); !slices.Equal(got, []string{"message", "message"}) {
		t.Fatalf("logged %v, want two messages", got)
	}
	if got := f.names(d.ID); len(got) != 2 {
		t.Fatalf("published %v, want two messages", got)
	}
	h, err := f.app.Queries.ListMessages.Handle(ctx, application.ListMessages{Device: d.ID})
	if err != nil || len(h.Messages) != 2 {
		t.Fatalf("history %d messages, %v; want 2", len(h.Messages), err)
	}
	kept, err := f.store.Messages.Find(ctx, device.ID(d.ID), device.MessageQuery{ID: "m1", Limit: 10})
	if err != nil || len(kept) != 2 || string(kept[0].Raw) != "raw m1" {
		t.Fatalf("kept %+v, %v", kept, err)
	}
}

// failingMessages cannot store what arrives.
type failingMessages struct{ device.Messages }

var errStore = errors.New("disk full")

func (failingMessages) Receive(context.Context, device.MessageReceived, []byte) (bool, error) {
	return false, errStore
}

// A message that could not be stored is reported to the WhatsApp client, which then
// does not acknowledge it; listeners hear nothing of it.
func TestMessageNotStoredIsAnError(t *testing.T) {
	store := memory.NewStore()
	pub := memory.NewPublisher()
	app := runFeed(t, func(events device.EventLog) application.App {
		return application.New(store.Devices, failingMessages{store.Messages}, events, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming}, memory.NewKeys(), memory.NewWhatsApp(), pub, memory.NewFetcher(), memoryHooks(), time.Now, application.NoObserver{}, quiet())
	}, store.Log)
	d, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Commands.Sessions.HandleSession(ctx, device.ID(d.ID), incoming("m1", "1555@s.whatsapp.net"))
	if !errors.Is(err, errStore) {
		t.Fatalf("HandleSession: %v, want the store's error", err)
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := app.Commands.Feed.Flush(c); err != nil {
		t.Fatal(err)
	}
	if last, _ := store.Log.Last(ctx); last != 0 || len(pub.Events()) != 0 {
		t.Fatalf("log ends at %d, published %d events: want nothing", last, len(pub.Events()))
	}
}

// Every event is published once, in the order of its id, and its payload carries that
// id as eventId.
func TestEventIDsIncrease(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 2 {
		d := f.create(t, "Phone")
		if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	for _, id := range ids {
		waitFor(t, f, id, "qr")
		if _, err := f.wa.Scan(device.ID(id), "1555", "Ann"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		for _, id := range ids {
			f.receive(t, id, incoming(fmt.Sprint("m", i), "1555@s.whatsapp.net"))
		}
	}
	f.flush(t)
	published := f.pub.Events()
	if logged := f.logged(t); len(published) != len(logged) || len(logged) < 2*(5+5) {
		t.Fatalf("published %d events, logged %d", len(published), len(logged))
	}
	last := map[device.ID]device.EventID{}
	for i, r := range published {
		if i > 0 && r.ID <= published[i-1].ID {
			t.Fatalf("event %d published after %d", r.ID, published[i-1].ID)
		}
		if r.ID <= last[r.DeviceID] {
			t.Fatalf("device %s: event %d after %d", r.DeviceID, r.ID, last[r.DeviceID])
		}
		last[r.DeviceID] = r.ID
		if p := payloadOf(r); p["eventId"] != r.ID.String() || p["deviceId"] != r.DeviceID.String() {
			t.Fatalf("event %d has payload %s", r.ID, r.Payload)
		}
	}
}

func TestListEvents(t *testing.T) {
	f := newFixture(t)
	a, b := f.create(t, "A").ID, f.create(t, "B").ID
	for i, id := range []string{a, b, a, b, a} { // events 1 to 5
		f.receive(t, id, incoming(fmt.Sprint("m", i+1), "1555@s.whatsapp.net"))
	}
	list := func(q application.ListEvents) ([]string, string) {
		t.Helper()
		page, err := f.app.Queries.ListEvents.Handle(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		ids := []string{}
		for _, e := range page.Events {
			var p struct{ EventID, DeviceID string }
			if err := json.Unmarshal(e.Data, &p); err != nil || p.EventID != e.ID || e.Event != "message" {
				t.Fatalf("event %s %s: data %s", e.ID, e.Event, e.Data)
			}
			if q.Device != "" && p.DeviceID != q.Device {
				t.Fatalf("event %s of %s in the feed of %s", e.ID, p.DeviceID, q.Device)
			}
			ids = append(ids, e.ID)
		}
		return ids, page.Next
	}
	for _, tc := range []struct {
		q    application.ListEvents
		ids  []string
		next string
	}{
		{application.ListEvents{}, []string{"1", "2", "3", "4", "5"}, "5"},
		{application.ListEvents{Limit: 2}, []string{"1", "2"}, "2"},
		{application.ListEvents{After: "2", Limit: 2}, []string{"3", "4"}, "4"},
		{application.ListEvents{After: "4", Limit: 2}, []string{"5"}, "5"},
		{application.ListEvents{After: "5"}, []string{}, "5"},
		{application.ListEvents{After: "99"}, []string{}, "99"},
		{application.ListEvents{Device: a, Limit: 2}, []string{"1", "3"}, "3"},
		{application.ListEvents{Device: a, After: "3"}, []string{"5"}, "5"},
		{application.ListEvents{Device: b}, []string{"2", "4"}, "4"},
		{application.ListEvents{Within: []device.ID{device.ID(b)}}, []string{"2", "4"}, "4"},
		{application.ListEvents{Within: []device.ID{device.ID(a)}, After: "1"}, []string{"3", "5"}, "5"},
		{application.ListEvents{Within: []device.ID{}, After: "1"}, []string{}, "1"},
	} {
		ids, next := list(tc.q)
		if !slices.Equal(ids, tc.ids) || next != tc.next {
			t.Errorf("%+v: events %v next %q, want %v next %q", tc.q, ids, next, tc.ids, tc.next)
		}
	}
	for _, tc := range []struct {
		q    application.ListEvents
		kind domain.Kind
	}{
		{application.ListEvents{After: "x"}, domain.KindInvalid},
		{application.ListEvents{After: "-1"}, domain.KindInvalid},
		{application.ListEvents{Limit: -1}, domain.KindInvalid},
		{application.ListEvents{Limit: application.MaxEventPage + 1}, domain.KindInvalid},
		{application.ListEvents{Device: "nope"}, domain.KindInvalid},
		{application.ListEvents{Device: "0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"}, domain.KindNotFound},
	} {
		if _, err := f.app.Queries.ListEvents.Handle(ctx, tc.q); domain.KindOf(err) != tc.kind {
			t.Errorf("%+v: %v, want %s", tc.q, err, tc.kind)
		}
	}
}

func TestListMessages(t *testing.T) {
	f := newFixture(t)
	a, b := f.create(t, "A").ID, f.create(t, "B").ID
	f.receive(t, a, incoming("a1", "1@s.whatsapp.net"))
	f.receive(t, b, incoming("b1", "1@s.whatsapp.net"))
	f.receive(t, a, incoming("a2", "2@s.whatsapp.net"))
	f.receive(t, a, incoming("a3", "1@s.whatsapp.net"))
	page := func(q application.ListMessages) ([]string, string) {
		t.Helper()
		h, err := f.app.Queries.ListMessages.Handle(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		ids := []string{}
		for _, m := range h.Messages {
			var p struct{ ID string }
			if err := json.Unmarshal(m, &p); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		return ids, h.Next
	}
	if ids, next := page(application.ListMessages{Device: a}); !slices.Equal(ids, []string{"a3", "a2", "a1"}) || next != "" {
		t.Fatalf("newest first: %v next %q", ids, next)
	}
	ids, next := page(application.ListMessages{Device: a, Limit: 2})
	if !slices.Equal(ids, []string{"a3", "a2"}) || next == "" {
		t.Fatalf("first page: %v next %q", ids, next)
	}
	if ids, next := page(application.ListMessages{Device: a, Limit: 2, Before: next}); !slices.Equal(ids, []string{"a1"}) || next != "" {
		t.Fatalf("second page: %v next %q", ids, next)
	}
	if ids, _ := page(application.ListMessages{Device: a, Chat: "1@s.whatsapp.net"}); !slices.Equal(ids, []string{"a3", "a1"}) {
		t.Fatalf("one chat: %v", ids)
	}
	for _, q := range []application.ListMessages{{Device: a, Limit: -1}, {Device: a, Limit: application.MaxPageSize + 1}, {Device: "nope"}, {Device: a, Before: "x"}} {
		if _, err := f.app.Queries.ListMessages.Handle(ctx, q); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%+v: %v, want invalid", q, err)
		}
	}
	if _, err := f.app.Queries.ListMessages.Handle(ctx, application.ListMessages{Device: "0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"}); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("unknown device: %v", err)
	}
}

// clock is a clock tests move; each reading moves it on by step.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *clock) set(t time.Time, step time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.step = t, step
}

// countingLog and countingMessages record the limits of the prunes asked of them.
type countingLog struct {
	device.EventLog
	limits *[]int
}

func (l countingLog) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	*l.limits = append(*l.limits, limit)
	return l.EventLog.Prune(ctx, before, limit)
}

type countingMessages struct {
	device.Messages
	limits *[]int
}

func (m countingMessages) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	*m.limits = append(*m.limits, limit)
	return m.Messages.Prune(ctx, before, limit)
}

func TestPruneLog(t *testing.T) {
	const day = 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	store := memory.NewStore()
	var eventLimits, messageLimits []int
	app := application.New(store.Devices, countingMessages{store.Messages, &messageLimits}, countingLog{store.Log, &eventLimits}, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming},
		memory.NewKeys(), memory.NewWhatsApp(), memory.NewPublisher(), memory.NewFetcher(), memoryHooks(), clk.Now, application.NoObserver{}, quiet())
	d, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	receiveAt := func(at time.Time, ids ...string) {
		t.Helper()
		clk.set(at, 0)
		for _, id := range ids {
			if err := app.Commands.Sessions.HandleSession(ctx, device.ID(d.ID), incoming(id, "1@s.whatsapp.net")); err != nil {
				t.Fatal(err)
			}
		}
	}
	receiveAt(t0, "old1", "old2", "old3", "old4", "old5")
	receiveAt(t0.Add(day), "edge") // exactly as old as the retention: kept
	receiveAt(t0.Add(8*day), "new1", "new2")
	left := func() []string {
		t.Helper()
		h, err := app.Queries.ListMessages.Handle(ctx, application.ListMessages{Device: d.ID})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range h.Messages {
			var p struct{ ID string }
			_ = json.Unmarshal(m, &p)
			ids = append(ids, p.ID)
		}
		recs, err := store.Log.Read(ctx, device.LogQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(ids) {
			t.Fatalf("%d events left for %d messages", len(recs), len(ids))
		}
		return ids
	}
	cmd := application.PruneLog{Events: 7 * day, Messages: 7 * day, Batch: 2, Budget: time.Minute}

	// Out of budget after the first batch: what is left goes at the next run.
	clk.set(t0.Add(8*day), time.Hour)
	out, err := app.Commands.PruneLog.Handle(ctx, cmd)
	if err != nil || out != (application.Pruned{Events: 2, Messages: 2}) {
		t.Fatalf("pruned %+v, %v; want one batch of each", out, err)
	}
	if got := left(); !slices.Equal(got, []string{"new2", "new1", "edge", "old5", "old4", "old3"}) {
		t.Fatalf("left %v", got)
	}

	clk.set(t0.Add(8*day), 0)
	eventLimits, messageLimits = nil, nil
	out, err = app.Commands.PruneLog.Handle(ctx, cmd)
	if err != nil || out != (application.Pruned{Events: 3, Messages: 3}) {
		t.Fatalf("pruned %+v, %v; want the 3 old ones left", out, err)
	}
	if !slices.Equal(eventLimits, []int{2, 2}) || !slices.Equal(messageLimits, []int{2, 2}) {
		t.Fatalf("prunes of at most %v events and %v messages, want batches of 2 until one is short", eventLimits, messageLimits)
	}
	if got := left(); !slices.Equal(got, []string{"new2", "new1", "edge"}) {
		t.Fatalf("left %v", got)
	}
}
