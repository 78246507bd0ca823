// Package webhooktest holds the contract every webhook.Repository and
// webhook.Deliveries must meet, as a test suite each implementation runs against itself.
package webhooktest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// Stores are a repository and the deliveries that go with it, empty.
type Stores struct {
	Webhooks   webhook.Repository
	Deliveries webhook.Deliveries
}

// RunContract runs the contract against stores made by newStores.
func RunContract(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
	dev := device.NewID(t0)
	newHook := func(t *testing.T, s Stores, enabled bool) *webhook.Webhook {
		t.Helper()
		url, events, devices := "https://hooks.example.com/in?x=1", []string{"message", "state"}, []device.ID{dev}
		w, err := webhook.New(webhook.Settings{URL: &url, Events: &events, Devices: &devices, Enabled: &enabled}, 7, t0)
		must(t, err)
		must(t, s.Webhooks.Create(ctx, w))
		return w
	}

	t.Run("create, get and list return every field", func(t *testing.T) {
		s := newStores(t)
		w := newHook(t, s, true)
		url := "http://other.example.com/"
		all := newHookWith(t, s, webhook.Settings{URL: &url}, t0.Add(time.Second))
		got, err := s.Webhooks.Get(ctx, w.ID())
		must(t, err)
		if g, want := got.Snapshot(), w.Snapshot(); !reflect.DeepEqual(g, want) {
			t.Fatalf("stored webhook differs:\n got %+v\nwant %+v", g, want)
		}
		list, err := s.Webhooks.List(ctx)
		must(t, err)
		if len(list) != 2 || list[0].ID() != w.ID() || !reflect.DeepEqual(list[1].Snapshot(), all.Snapshot()) {
			t.Fatalf("list: %+v, want both, oldest first, every event and device of the second unset", list)
		}
	})

	t.Run("a missing webhook is not found", func(t *testing.T) {
		s := newStores(t)
		if _, err := s.Webhooks.Get(ctx, "wh_0000000000000000"); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("get: %v, want not found", err)
		}
		if err := s.Webhooks.Delete(ctx, "wh_0000000000000000"); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("delete: %v, want not found", err)
		}
		if _, err := s.Webhooks.Update(ctx, "wh_0000000000000000", func(*webhook.Webhook) error { return nil }); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("update: %v, want not found", err)
		}
	})

	t.Run("update changes settings, keeps the cursor, and a failing change stores nothing", func(t *testing.T) {
		s := newStores(t)
		w := newHook(t, s, true)
		claim(t, s, w.ID(), "a", t0)
		advance(t, s, w.ID(), "a", 9, true)
		off := false
		got, err := s.Webhooks.Update(ctx, w.ID(), func(w *webhook.Webhook) error {
			return w.Change(webhook.Settings{Enabled: &off}, t0.Add(time.Minute))
		})
		must(t, err)
		if got.Enabled() || got.Cursor() != 9 || !got.Snapshot().UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("updated: %+v, want disabled, cursor 9, updated at +1m", got.Snapshot())
		}
		boom := domain.Errorf(domain.KindInvalid, "boom")
		if _, err := s.Webhooks.Update(ctx, w.ID(), func(w *webhook.Webhook) error {
			on := true
			_ = w.Change(webhook.Settings{Enabled: &on}, t0)
			return boom
		}); err != boom {
			t.Fatalf("update: %v, want the function's error", err)
		}
		if again, _ := s.Webhooks.Get(ctx, w.ID()); again.Enabled() {
			t.Fatal("a failed update was stored")
		}
	})

	t.Run("one instance delivers a webhook until its claim expires", func(t *testing.T) {
		s := newStores(t)
		w := newHook(t, s, true)
		claim(t, s, w.ID(), "a", t0)
		if ok, err := s.Webhooks.Claim(ctx, w.ID(), "b", t0.Add(time.Second), t0.Add(11*time.Second)); err != nil || ok {
			t.Fatalf("b claimed a held webhook: %v %v", ok, err)
		}
		claim(t, s, w.ID(), "a", t0.Add(5*time.Second)) // renewed, to +15 s
		if ok, _ := s.Webhooks.Claim(ctx, w.ID(), "b", t0.Add(12*time.Second), t0.Add(22*time.Second)); ok {
			t.Fatal("b claimed a renewed webhook")
		}
		claim(t, s, w.ID(), "b", t0.Add(16*time.Second))
		// a no longer moves the cursor; b does, forward only.
		advance(t, s, w.ID(), "a", 10, false)
		advance(t, s, w.ID(), "b", 10, true)
		advance(t, s, w.ID(), "b", 8, false)
		if got, _ := s.Webhooks.Get(ctx, w.ID()); got.Cursor() != 10 {
			t.Fatalf("cursor %d, want 10", got.Cursor())
		}
		if ok, err := s.Webhooks.Claim(ctx, "wh_0000000000000000", "a", t0, t0.Add(time.Minute)); err != nil || ok {
			t.Fatalf("claimed a missing webhook: %v %v", ok, err)
		}
	})

	t.Run("deliveries: newest first, dead letters requeued once, pruned by age, gone with the webhook", func(t *testing.T) {
		s := newStores(t)
		w, other := newHook(t, s, true), newHook(t, s, true)
		add := func(h *webhook.Webhook, event device.EventID, attempt int, st webhook.Status, at time.Time) {
			d := webhook.Delivery{Webhook: h.ID(), EventID: event, Event: "message", DeviceID: dev, Attempt: attempt, Status: st,
				Code: 503, Error: "the receiver answered 503", Latency: 1500 * time.Microsecond, At: at}
			if st == webhook.Failed {
				d.NextAttempt = at.Add(time.Second)
			}
			must(t, s.Deliveries.Add(ctx, d))
		}
		add(w, 12, 1, webhook.Failed, t0)
		add(w, 12, 2, webhook.Dead, t0.Add(time.Second))
		add(w, 11, 3, webhook.Dead, t0.Add(2*time.Second))
		add(w, 13, 1, webhook.Delivered, t0.Add(3*time.Second))
		add(other, 12, 1, webhook.Dead, t0.Add(3*time.Second))
		list, err := s.Deliveries.List(ctx, w.ID(), 10)
		must(t, err)
		if len(list) != 4 || list[0].EventID != 13 || list[3].Status != webhook.Failed || !list[3].NextAttempt.Equal(t0.Add(time.Second)) ||
			list[3].Latency != 1500*time.Microsecond || list[3].Code != 503 || list[3].Error == "" || list[3].ID == 0 || list[0].NextAttempt != (time.Time{}) {
			t.Fatalf("list: %+v", list)
		}
		if short, _ := s.Deliveries.List(ctx, w.ID(), 2); len(short) != 2 || short[0].EventID != 13 {
			t.Fatalf("list of 2: %+v", short)
		}
		n, err := s.Deliveries.Requeue(ctx, w.ID())
		if err != nil || n != 2 {
			t.Fatalf("requeued %d, %v; want the 2 dead letters", n, err)
		}
		queued, err := s.Deliveries.Requeued(ctx, w.ID(), 10)
		must(t, err)
		if len(queued) != 2 || queued[0].EventID != 11 || queued[1].EventID != 12 {
			t.Fatalf("requeued: %+v, want events 11 then 12", queued)
		}
		must(t, s.Deliveries.MarkRetried(ctx, queued[0].ID))
		if queued, _ = s.Deliveries.Requeued(ctx, w.ID(), 10); len(queued) != 1 || queued[0].EventID != 12 {
			t.Fatalf("requeued after one was retried: %+v", queued)
		}
		if n, _ := s.Deliveries.Requeue(ctx, other.ID()); n != 1 {
			t.Fatalf("requeued %d of the other webhook's, want its 1", n)
		}
		pruned, err := s.Deliveries.Prune(ctx, t0.Add(1500*time.Millisecond), 1)
		if err != nil || pruned != 1 {
			t.Fatalf("pruned %d, %v; want 1 (the limit)", pruned, err)
		}
		if pruned, _ = s.Deliveries.Prune(ctx, t0.Add(1500*time.Millisecond), 10); pruned != 1 {
			t.Fatalf("pruned %d, want the other one older than the cut", pruned)
		}
		must(t, s.Webhooks.Delete(ctx, w.ID()))
		if list, _ := s.Deliveries.List(ctx, w.ID(), 10); len(list) != 0 {
			t.Fatalf("deliveries of a deleted webhook: %+v", list)
		}
		if list, _ := s.Deliveries.List(ctx, other.ID(), 10); len(list) != 1 {
			t.Fatalf("the other webhook's deliveries: %+v", list)
		}
	})
}

func newHookWith(t *testing.T, s Stores, set webhook.Settings, now time.Time) *webhook.Webhook {
	t.Helper()
	w, err := webhook.New(set, 0, now)
	must(t, err)
	must(t, s.Webhooks.Create(context.Background(), w))
	return w
}

func claim(t *testing.T, s Stores, id webhook.ID, owner string, now time.Time) {
	t.Helper()
	ok, err := s.Webhooks.Claim(context.Background(), id, owner, now, now.Add(10*time.Second))
	if err != nil || !ok {
		t.Fatalf("%s could not claim %s at %v: %v %v", owner, id, now, ok, err)
	}
}

func advance(t *testing.T, s Stores, id webhook.ID, owner string, to device.EventID, want bool) {
	t.Helper()
	ok, err := s.Webhooks.Advance(context.Background(), id, owner, to)
	if err != nil || ok != want {
		t.Fatalf("%s moving %s's cursor to %d: %v %v, want %v", owner, id, to, ok, err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
