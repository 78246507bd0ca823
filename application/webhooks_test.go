package application_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// fastDelivery retries within milliseconds, and gives up on events older than 2 s.
var fastDelivery = application.DeliveryTiming{Window: 2 * time.Second, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
	Hold: time.Second, Sync: 20 * time.Millisecond, Poll: 10 * time.Millisecond}

type hooksFixture struct {
	app    application.App
	store  memory.Store
	sender *memory.Sender
	obs    *recordingObserver
}

// newHooksFixture builds the application with its dispatcher running, posting to a
// memory sender.
func newHooksFixture(t *testing.T, timing application.DeliveryTiming) hooksFixture {
	t.Helper()
	f := hooksFixture{store: memory.NewStore(), sender: memory.NewSender(), obs: &recordingObserver{}}
	w := memory.NewWebhooks()
	f.app = application.New(f.store.Devices, f.store.Messages, f.store.Log, memory.NewLeases(),
		application.Instance{ID: "test", Timing: application.DefaultLeaseTiming, Delivery: timing}, memory.NewKeys(), memory.NewWhatsApp(),
		memory.NewPublisher(), memory.NewFetcher(), application.WebhookPorts{Webhooks: w, Deliveries: w.Deliveries(), Sender: f.sender}, time.Now, f.obs, quiet())
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.app.Commands.Dispatcher.Run(c) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f hooksFixture) hook(t *testing.T, s application.WebhookSettings) application.CreatedWebhook {
	t.Helper()
	w, err := f.app.Commands.Webhooks.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// posts waits until the sender got n posts to url, and returns them.
func (f hooksFixture) posts(t *testing.T, url string, n int) []memory.Post {
	t.Helper()
	var got []memory.Post
	eventually(t, "the webhook got "+strconv.Itoa(n)+" posts", func() bool {
		got = slices.DeleteFunc(f.sender.Posts(), func(p memory.Post) bool { return p.URL != url })
		return len(got) >= n
	})
	return got
}

type posted struct {
	Event   string
	EventID string
	Data    json.RawMessage
}

func decodePost(t *testing.T, p memory.Post) posted {
	t.Helper()
	var b posted
	if err := json.Unmarshal(p.Body, &b); err != nil {
		t.Fatalf("body %q: %v", p.Body, err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// churn creates a device, connects it (its session starts pairing: state and qr
// events) and disconnects it (state and disconnected), and returns its id.
func (f hooksFixture) churn(t *testing.T, name string) string {
	t.Helper()
	d, err := f.app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// logAfter reads the log after id, of one device unless dev is "".
func (f hooksFixture) logAfter(t *testing.T, id device.EventID, dev string) []device.Record {
	t.Helper()
	recs, err := f.store.Log.Read(ctx, device.LogQuery{After: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(recs, func(r device.Record) bool { return dev != "" && r.DeviceID.String() != dev })
}

// Every event after the webhook's creation is posted once, in log order, signed, with
// exactly the payload listeners get.
func TestWebhookDeliversTheLog(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	f.churn(t, "before")
	w := f.hook(t, application.WebhookSettings{URL: ptr("https://hooks.example.com/in")})
	if !strings.HasPrefix(w.Secret, "whsec_") || len(w.Secret) < 40 {
		t.Fatalf("generated secret %q", w.Secret)
	}
	f.churn(t, "after")
	f.churn(t, "later")
	want := f.logAfter(t, mustID(t, w.Cursor), "")
	if len(want) < 6 {
		t.Fatalf("the log holds %d events after the webhook's creation, want 2 devices' connects and disconnects", len(want))
	}
	got := f.posts(t, "https://hooks.example.com/in", len(want))
	time.Sleep(50 * time.Millisecond)
	if got = f.posts(t, "https://hooks.example.com/in", 0); len(got) != len(want) {
		t.Fatalf("%d posts, want %d (one per event after the creation)", len(got), len(want))
	}
	for i, p := range got {
		b, r := decodePost(t, p), want[i]
		if b.Event != r.Name || b.EventID != r.ID.String() || string(b.Data) != string(r.Payload) {
			t.Fatalf("post %d: %s %s %s, want %s %s %s", i, b.Event, b.EventID, b.Data, r.Name, r.ID, r.Payload)
		}
		h := p.Header
		if h["X-Wagate-Event"] != r.Name || h["X-Wagate-Delivery"] != r.ID.String() || h["Content-Type"] != "application/json" {
			t.Fatalf("headers %v", h)
		}
		ts, err := strconv.ParseInt(h["X-Wagate-Timestamp"], 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Fatalf("timestamp %q", h["X-Wagate-Timestamp"])
		}
		mac := hmac.New(sha256.New, []byte(w.Secret))
		mac.Write([]byte(h["X-Wagate-Timestamp"] + "." + string(p.Body)))
		if h["X-Wagate-Signature"] != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Fatalf("signature %q does not verify", h["X-Wagate-Signature"])
		}
	}
	eventually(t, "the cursor at the last event", func() bool {
		got, _ := f.app.Commands.Webhooks.Get(ctx, w.ID)
		return got.Cursor == want[len(want)-1].ID.String()
	})
}

func mustID(t *testing.T, s string) device.EventID {
	id, err := device.ParseEventID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A webhook limited to events and devices gets only those.
func TestWebhookFilters(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	a, _ := f.app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "a"})
	f.hook(t, application.WebhookSettings{URL: ptr("https://a.example.com/"), Events: ptr([]string{"state"}), Devices: ptr([]string{a.ID})})
	all := f.hook(t, application.WebhookSettings{URL: ptr("https://all.example.com/")})
	f.churn(t, "b")
	for _, cmd := range []func() error{
		func() error {
			_, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: a.ID})
			return err
		},
		func() error {
			_, err := f.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: a.ID})
			return err
		},
	} {
		if err := cmd(); err != nil {
			t.Fatal(err)
		}
	}
	everything := f.logAfter(t, mustID(t, all.Cursor), "")
	var wantA []string
	for _, r := range f.logAfter(t, mustID(t, all.Cursor), a.ID) {
		if r.Name == "state" {
			wantA = append(wantA, r.ID.String())
		}
	}
	f.posts(t, "https://all.example.com/", len(everything))
	got := f.posts(t, "https://a.example.com/", len(wantA))
	time.Sleep(50 * time.Millisecond)
	var gotA []string
	for _, p := range f.posts(t, "https://a.example.com/", 0) {
		gotA = append(gotA, decodePost(t, p).EventID)
	}
	if len(wantA) < 2 || !slices.Equal(gotA, wantA) {
		t.Fatalf("the filtered webhook got events %v, want a's state events %v", gotA, wantA)
	}
	if n := len(f.posts(t, "https://all.example.com/", 0)); n != len(everything) || len(got) == n {
		t.Fatalf("the unfiltered webhook got %d posts, want all %d", n, len(everything))
	}
}

// A failing receiver is retried with backoff, without reordering; an event it cannot take
// within the retry window is a dead letter, which redeliver sends again.
func TestWebhookRetriesThenDeadLetters(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	var mu sync.Mutex
	failing, refuseAll := "", false // the first event delivered fails 3 times, then goes
	failures := 0
	f.sender.SetAnswer(func(p memory.Post) int {
		mu.Lock()
		defer mu.Unlock()
		id := p.Header["X-Wagate-Delivery"]
		if failing == "" {
			failing = id
		}
		if refuseAll || (id == failing && failures < 3) {
			failures++
			return 503
		}
		return 200
	})
	w := f.hook(t, application.WebhookSettings{URL: ptr("https://retry.example.com/")})
	f.churn(t, "a")
	log := f.logAfter(t, mustID(t, w.Cursor), "")
	got := f.posts(t, "https://retry.example.com/", len(log)+3)
	var ids []string
	for _, p := range got {
		ids = append(ids, p.Header["X-Wagate-Delivery"])
	}
	want := []string{log[0].ID.String(), log[0].ID.String(), log[0].ID.String()}
	for _, r := range log {
		want = append(want, r.ID.String())
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("posted events %v, want the first 4 times (3 failures), then the others in order: %v", ids, want)
	}
	eventually(t, "every attempt recorded", func() bool {
		ds, _ := f.app.Commands.Webhooks.Deliveries(ctx, w.ID, 0)
		return len(ds) == len(want)
	})
	ds, err := f.app.Commands.Webhooks.Deliveries(ctx, w.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	slices.Reverse(ds)
	for _, d := range ds[:4] {
		statuses = append(statuses, d.Status+":"+strconv.Itoa(d.Attempt)+":"+strconv.Itoa(d.Code))
		if d.Status == "failed" && !d.NextAttempt.After(d.At) {
			t.Fatalf("a failed attempt without its next one: %+v", d)
		}
	}
	if !slices.Equal(statuses, []string{"failed:1:503", "failed:2:503", "failed:3:503", "delivered:4:200"}) {
		t.Fatalf("attempts %v", statuses)
	}
	f.obs.mu.Lock()
	observed := slices.Clone(f.obs.webhooks)
	f.obs.mu.Unlock()
	if len(observed) != len(ds) || !slices.Equal(observed[:4], []string{"failed", "failed", "failed", "delivered"}) {
		t.Fatalf("the observer was told %v, want each of the %d attempts", observed, len(ds))
	}

	// Now the receiver refuses everything: the next events are dead letters once their
	// retry window is over, one after the other.
	mu.Lock()
	refuseAll = true
	mu.Unlock()
	end := log[len(log)-1].ID
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: log[0].DeviceID.String()}); err != nil {
		t.Fatal(err)
	}
	var next []device.Record // the session's events: its state, then its QR code
	var dead []application.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(next) < 2 || len(dead) < len(next); time.Sleep(20 * time.Millisecond) {
		next = f.logAfter(t, end, "")
		ds, _ := f.app.Commands.Webhooks.Deliveries(ctx, w.ID, 100)
		dead = slices.DeleteFunc(ds, func(d application.Delivery) bool { return d.Status != "dead" })
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters within 10 s, want %d", len(dead), len(next))
		}
	}
	for _, d := range dead {
		if took := d.At.Sub(mustTime(t, f, d.EventID)); took < fastDelivery.Window-fastDelivery.MaxBackoff {
			t.Fatalf("event %s dead after %v, before the retry window of %v", d.EventID, took, fastDelivery.Window)
		}
	}
	mu.Lock()
	refuseAll = false
	mu.Unlock()
	n, err := f.app.Commands.Webhooks.Redeliver(ctx, w.ID)
	if err != nil || n != len(next) {
		t.Fatalf("redeliver: %d %v, want the %d dead letters", n, err, len(next))
	}
	eventually(t, "the dead letters delivered, in order", func() bool {
		ds, _ := f.app.Commands.Webhooks.Deliveries(ctx, w.ID, 100)
		var redelivered []string
		for _, d := range slices.Backward(ds) {
			switch d.Status {
			case "dead", "requeued":
				return false
			case "delivered":
				if mustID(t, d.EventID) > end {
					redelivered = append(redelivered, d.EventID)
				}
			}
		}
		var want []string
		for _, r := range next {
			want = append(want, r.ID.String())
		}
		return slices.Equal(redelivered, want)
	})
}

func mustTime(t *testing.T, f hooksFixture, id string) time.Time {
	t.Helper()
	recs, err := f.store.Log.Read(ctx, device.LogQuery{After: mustID(t, id) - 1, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("event %s: %v %v", id, recs, err)
	}
	return recs[0].At
}

// A receiver that takes its time delays no other webhook.
func TestSlowWebhookDelaysNoOther(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.sender.SetAnswer(func(p memory.Post) int {
		if strings.HasPrefix(p.URL, "https://slow.") {
			<-release
		}
		return 200
	})
	f.hook(t, application.WebhookSettings{URL: ptr("https://slow.example.com/")})
	f.hook(t, application.WebhookSettings{URL: ptr("https://fast.example.com/")})
	f.churn(t, "a")
	_ = f.posts(t, "https://fast.example.com/", 3) // while the slow one holds its first
	if n := len(f.posts(t, "https://slow.example.com/", 1)); n != 1 {
		t.Fatalf("the slow receiver got %d posts while holding the first", n)
	}
}

func TestWebhookSettings(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	for _, s := range []application.WebhookSettings{
		{},
		{URL: ptr("ftp://example.com/")},
		{URL: ptr("https://refused.invalid/hook")},
		{URL: ptr("https://example.com/"), Events: ptr([]string{"bogus"})},
		{URL: ptr("https://example.com/"), Devices: ptr([]string{"not-an-id"})},
		{URL: ptr("https://example.com/"), Secret: ptr("short")},
	} {
		if _, err := f.app.Commands.Webhooks.Create(ctx, s); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("create %+v: %v, want invalid", s, err)
		}
	}
	if _, err := f.app.Commands.Webhooks.Create(ctx, application.WebhookSettings{URL: ptr("https://example.com/"), Devices: ptr([]string{device.NewID(time.Now()).String()})}); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("a webhook for a device that does not exist: %v, want not found", err)
	}
	if list, _ := f.app.Commands.Webhooks.List(ctx); len(list) != 0 {
		t.Fatalf("refused webhooks were stored: %+v", list)
	}
	w := f.hook(t, application.WebhookSettings{URL: ptr("https://example.com/"), Secret: ptr("a-secret-of-my-own"), Events: ptr([]string{"state", "message", "state"})})
	if w.Secret != "a-secret-of-my-own" || !slices.Equal(w.Events, []string{"message", "state"}) || !w.Enabled {
		t.Fatalf("created %+v", w)
	}
	got, err := f.app.Commands.Webhooks.Update(ctx, w.ID, application.WebhookSettings{Enabled: ptr(false), URL: ptr("https://other.example.com/x")})
	if err != nil || got.Enabled || got.URL != "https://other.example.com/x" || !slices.Equal(got.Events, w.Events) {
		t.Fatalf("updated %+v %v", got, err)
	}
	if _, err := f.app.Commands.Webhooks.Update(ctx, w.ID, application.WebhookSettings{URL: ptr("http://refused.invalid/")}); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("update to a refused URL: %v", err)
	}
	r, err := f.app.Commands.Webhooks.Ping(ctx, w.ID)
	if err != nil || !r.Delivered || r.Code != 200 {
		t.Fatalf("ping: %+v %v", r, err)
	}
	ping := f.posts(t, "https://other.example.com/x", 1)[0]
	if ping.Header["X-Wagate-Event"] != "ping" || !strings.Contains(string(ping.Body), w.ID) {
		t.Fatalf("ping posted %v %s", ping.Header, ping.Body)
	}
	if err := f.app.Commands.Webhooks.Delete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Commands.Webhooks.Get(ctx, w.ID); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := f.app.Commands.Webhooks.Get(ctx, "nope"); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("get of a malformed id: %v", err)
	}
}

// Disabling a webhook and enabling it again while an attempt is under way never leaves
// it two workers: each event is delivered once, in order.
func TestWebhookToggledKeepsOneWorker(t *testing.T) {
	f := newHooksFixture(t, fastDelivery)
	f.sender.SetAnswer(func(memory.Post) int { time.Sleep(30 * time.Millisecond); return 200 })
	w := f.hook(t, application.WebhookSettings{URL: ptr("https://toggle.example.com/")})
	for i := range 3 {
		f.churn(t, strconv.Itoa(i))
	}
	for range 10 {
		for _, on := range []bool{false, true} {
			if _, err := f.app.Commands.Webhooks.Update(ctx, w.ID, application.WebhookSettings{Enabled: ptr(on)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	want := f.logAfter(t, mustID(t, w.Cursor), "")
	eventually(t, "every event delivered", func() bool {
		got, _ := f.app.Commands.Webhooks.Get(ctx, w.ID)
		return got.Cursor == want[len(want)-1].ID.String()
	})
	time.Sleep(100 * time.Millisecond)
	var ids []string
	for _, p := range f.sender.Posts() {
		ids = append(ids, p.Header["X-Wagate-Delivery"])
	}
	var wantIDs []string
	for _, r := range want {
		wantIDs = append(wantIDs, r.ID.String())
	}
	// A worker stopped during an attempt sends that event again: at least once.
	if compact := slices.Compact(slices.Clone(ids)); !slices.Equal(compact, wantIDs) {
		t.Fatalf("delivered %v, want each of %v in order (repeats only back to back)", ids, wantIDs)
	}
}
