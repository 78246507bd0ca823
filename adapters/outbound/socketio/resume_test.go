package socketio

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// rig is a gateway fed, as in production, by application.Feed from an in-memory event
// log, with two devices whose messages the tests store.
type rig struct {
	t     *testing.T
	store memory.Store
	g     *Gateway
	base  string
	feed  *application.Feed
	devs  [2]device.ID
	mu    sync.Mutex
	seq   int
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	r := newManualRig(t, o)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.feed = application.NewFeed(r.store.Log, r.g, log)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.feed.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	// The feed publishes what is committed after it started: store until it does.
	for {
		if last := r.receive(0, 1); r.waitPublished(last, 200*time.Millisecond) {
			return r
		}
	}
}

// newManualRig is a rig without a feed: the test publishes (publish).
func newManualRig(t *testing.T, o Options) *rig {
	t.Helper()
	r := &rig{t: t, store: memory.NewStore()}
	for i := range r.devs {
		d := newDevice(t)
		if err := r.store.Devices.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		r.devs[i] = d.ID()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth := apikey.New(application.NewAuthenticate(memory.NewKeys(), testKey, time.Now), log, apikey.Options{})
	r.g = New(auth, application.NewValidKeys(memory.NewKeys(), time.Now), r.store.Devices, r.store.Log, log, o)
	mux := http.NewServeMux()
	mux.Handle(Path+"/", r.g.Handler())
	srv := httptest.NewServer(mux)
	r.base = srv.URL
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { r.g.Close(); srv.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not close within 10s")
		}
	})
	return r
}

// publish publishes the log's events after id, as the feed would.
func (r *rig) publish(after device.EventID) {
	r.t.Helper()
	recs, err := r.store.Log.Read(context.Background(), device.LogQuery{After: after, Limit: 1 << 30})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, rec := range recs {
		if err := r.g.Publish(context.Background(), rec); err != nil {
			r.t.Fatal(err)
		}
	}
}

// waitAhead waits until n resuming listeners wait for the feed to catch up.
func (r *rig) waitAhead(n int) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		r.g.pub.Lock()
		ahead := len(r.g.ahead)
		r.g.pub.Unlock()
		if ahead == n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d listeners ahead of the feed, want %d", ahead, n)
		}
	}
}

// receive stores n messages for device i and wakes the feed; it returns the id of the
// last one's event.
func (r *rig) receive(i, n int) device.EventID {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for range n {
		r.seq++
		m := message.Message{ID: strconv.Itoa(r.seq), Chat: "15550000000@s.whatsapp.net", Type: message.TypeText, Text: "hi",
			Sender: message.Sender{JID: "15550000000@s.whatsapp.net"}, Timestamp: now}
		if _, err := r.store.Messages.Receive(context.Background(), device.NewMessageReceived(r.devs[i], m, now), nil); err != nil {
			r.t.Error(err)
		}
	}
	if r.feed != nil {
		r.feed.Wake()
	}
	last, err := r.store.Log.Last(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return last
}

// waitPublished reports whether the gateway publishes event id within timeout.
func (r *rig) waitPublished(id device.EventID, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); r.g.published.Load() < int64(id); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// expected lists the ids of the log's events after id of the devices (nil: all).
func (r *rig) expected(after device.EventID, devs []device.ID) []string {
	r.t.Helper()
	recs, err := r.store.Log.Read(context.Background(), device.LogQuery{After: after, Devices: devs, Limit: 1 << 30})
	if err != nil {
		r.t.Fatal(err)
	}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID.String()
	}
	return ids
}

// collect reads n events and returns their eventIds, checking that each offset, when
// the listener gets them, is its eventId.
func (l *wsListener) collect(n int, offsets bool) []string {
	l.t.Helper()
	ids := make([]string, 0, n)
	for range n {
		name, data, offset, ok := l.eventWithOffset()
		id, _ := data["eventId"].(string)
		if name != "message" || id == "" || ok != offsets || (ok && offset != id) {
			l.t.Fatalf("after %d events: got %s %v with offset %q (%v), want a message with an eventId and offsets %v", len(ids), name, data, offset, ok, offsets)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestLastEventIDReplaysThenLive connects listeners with lastEventId while events of
// two devices keep being published: each gets every event of its scope after that id,
// in order, then the live ones, with none missing or twice, and no welcome. With few
// recent events kept, the hand-over has to read the log again.
func TestLastEventIDReplaysThenLive(t *testing.T) {
	for _, recent := range []int{DefaultRecent, 8} {
		for _, root := range []bool{false, true} {
			t.Run(fmt.Sprintf("recent=%d,root=%v", recent, root), func(t *testing.T) {
				t.Parallel()
				r := newRig(t, Options{Recent: recent})
				r.receive(0, 150)
				from := r.receive(1, 150) - 200 // in the middle of device 0's messages
				more := make(chan device.EventID)
				go func() { // live events, while the listener replays
					var last device.EventID
					for i := range 300 {
						last = r.receive(i%2, 5)
						time.Sleep(time.Millisecond)
					}
					more <- last
				}()
				nsp, scope := "/device/"+r.devs[0].String(), []device.ID{r.devs[0]}
				if root {
					nsp, scope = "/", nil
				}
				l := dialWith(t, r.base, nsp, "", `{"lastEventId":"`+from.String()+`"}`, nil)
				l.connected()
				last := <-more
				if !r.waitPublished(last, 10*time.Second) {
					t.Fatal("events not published")
				}
				want := r.expected(from, scope)
				if got := l.collect(len(want), false); !slices.Equal(got, want) {
					t.Fatalf("got %d events %v..., want %d from %s", len(got), got[:min(len(got), 5)], len(want), want[0])
				}
				if p, err := l.read(200 * time.Millisecond); err == nil {
					t.Fatalf("more than expected: %q", p)
				}
			})
		}
	}
}

// TestMalformedLastEventIDIsRefused: the listener is told why at connect.
func TestMalformedLastEventIDIsRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{})
	for _, c := range []struct{ query, auth string }{{"&lastEventId=abc", ""}, {"", `{"lastEventId":"-1"}`}, {"", `{"lastEventId":true}`}} {
		l := dialWith(t, r.base, "/device/"+r.devs[0].String(), c.query, c.auth, nil)
		want := "44" + l.prefix() + `{"data":null,"message":"` + errLastEventID.Error() + `"}`
		if p, err := l.read(5 * time.Second); err != nil || p != want {
			t.Fatalf("%+v answered %q %v, want %q", c, p, err, want)
		}
	}
}

// TestOffsetsOnlyForListenersThatOptIn: the welcome carries the newest event's id;
// a listener that opted into recovery gets a pid and each event's id as a last
// argument, and another one gets the payload alone.
func TestOffsetsOnlyForListenersThatOptIn(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{})
	last := r.receive(0, 3)
	r.waitPublished(last, 5*time.Second)
	nsp := "/device/" + r.devs[0].String()
	plain := dialWith(t, r.base, nsp, "", "", nil)
	plain.connected()
	byAuth := dialWith(t, r.base, nsp, "", `{"recover":true}`, nil)
	byQuery := dialWith(t, r.base, nsp, "&recover=1", "", nil)
	if name, data := plain.event(); name != "state" || data["eventId"] != last.String() {
		t.Fatalf("welcome %s %v, want state with eventId %s", name, data, last)
	}
	for _, l := range []*wsListener{byAuth, byQuery} {
		if c := l.connected(); c["pid"] == nil {
			t.Fatalf("no pid in %v", c)
		}
		if name, data, offset, _ := l.eventWithOffset(); name != "state" || data["eventId"] != last.String() || offset != last.String() {
			t.Fatalf("welcome %s %v %q, want state with eventId and offset %s", name, data, offset, last)
		}
	}
	last = r.receive(0, 1)
	if _, data := plain.event(); data["eventId"] != last.String() {
		t.Fatalf("got %v, want event %s", data, last)
	}
	for _, l := range []*wsListener{byAuth, byQuery} {
		if got := l.collect(1, true); got[0] != last.String() {
			t.Fatalf("got %v, want event %s", got, last)
		}
	}
}

// TestSlowListenerRecovers: a listener that stops reading is cut (MaxBuffered), which
// the observer is told; it reconnects with its pid and last offset, is told it
// recovered (the same pid), and gets every event it missed, then live ones.
func TestSlowListenerRecovers(t *testing.T) {
	t.Parallel()
	obs := new(countingObserver)
	r := newRig(t, Options{MaxBuffered: 100, Observer: obs})
	nsp := "/device/" + r.devs[0].String()
	slow := dialWith(t, r.base, nsp, "", `{"recover":true}`, smallBuffers())
	pid := slow.connected()["pid"].(string)
	_, welcome, offset, _ := slow.eventWithOffset()
	if welcome["eventId"] != offset {
		t.Fatalf("welcome %v offset %q", welcome, offset)
	}
	// It reads nothing more: large messages fill its buffers until it is cut.
	r.mu.Lock()
	now := time.Now()
	for i := range 400 {
		m := message.Message{ID: "big" + strconv.Itoa(i), Chat: "c", Type: message.TypeText, Text: strings.Repeat("x", 16<<10), Sender: message.Sender{JID: "s"}, Timestamp: now}
		if _, err := r.store.Messages.Receive(context.Background(), device.NewMessageReceived(r.devs[0], m, now), nil); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Unlock()
	r.feed.Wake()
	last, _ := r.store.Log.Last(context.Background())
	if !r.waitPublished(last, 20*time.Second) {
		t.Fatal("events not published")
	}
	slow.closed(20 * time.Second)
	if n := obs.cut.Load(); n != 1 {
		t.Fatalf("the observer was told of %d slow listeners cut, want 1", n)
	}
	for deadline := time.Now().Add(5 * time.Second); obs.device.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d device listeners counted after the only one was cut", obs.device.Load())
		}
	}

	back := dialWith(t, r.base, nsp, "", `{"recover":true,"pid":"`+pid+`","offset":"`+offset+`"}`, nil)
	if got := back.connected()["pid"]; got != pid {
		t.Fatalf("pid %v after recovery, want %s: not recovered", got, pid)
	}
	from, _ := device.ParseEventID(offset)
	want := r.expected(from, []device.ID{r.devs[0]})
	if got := back.collect(len(want), true); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	live := r.receive(0, 1)
	if got := back.collect(1, true); got[0] != live.String() {
		t.Fatalf("live event %v, want %s", got, live)
	}
	if obs.device.Load() != 1 || obs.root.Load() != 0 || obs.emitted.Load() < 400 {
		t.Fatalf("the observer counts %d device and %d root listeners, %d events emitted", obs.device.Load(), obs.root.Load(), obs.emitted.Load())
	}
}

// countingObserver counts what the gateway tells its Observer.
type countingObserver struct{ root, device, emitted, cut atomic.Int64 }

func (o *countingObserver) listeners(root bool) *atomic.Int64 {
	if root {
		return &o.root
	}
	return &o.device
}
func (o *countingObserver) ListenerConnected(root bool)    { o.listeners(root).Add(1) }
func (o *countingObserver) ListenerDisconnected(root bool) { o.listeners(root).Add(-1) }
func (o *countingObserver) EventEmitted(string)            { o.emitted.Add(1) }
func (o *countingObserver) SlowListenerCut()               { o.cut.Add(1) }

// TestResumeAheadOfTheFeed: the log holds events that the feed has not published yet,
// or never will (committed before it started). A listener that read them from the log
// gets each once, those it missed before the feed's first event too, then live ones.
func TestResumeAheadOfTheFeed(t *testing.T) {
	t.Parallel()
	r := newManualRig(t, Options{})
	ids := func(from, to int) (ids []string) {
		for i := from; i <= to; i++ {
			ids = append(ids, strconv.Itoa(i))
		}
		return ids
	}
	nsp := "/device/" + r.devs[0].String()
	r.receive(0, 10) // committed before the feed started: never published
	first := dialWith(t, r.base, nsp, "", `{"lastEventId":"2"}`, nil)
	first.connected()
	got := first.collect(8, false)
	r.waitAhead(1)
	r.receive(0, 3) // committed after the listener read, before the feed started
	r.receive(0, 2)
	r.publish(13) // the feed's first events: 14 and 15
	got = append(got, first.collect(5, false)...)
	r.receive(0, 1)
	r.publish(15)
	if got = append(got, first.collect(1, false)...); !slices.Equal(got, ids(3, 16)) {
		t.Fatalf("first listener got %v", got)
	}

	r.receive(0, 5) // 17..21, not published yet
	second := dialWith(t, r.base, nsp, "", `{"lastEventId":"15"}`, nil)
	second.connected()
	got = second.collect(6, false)
	r.waitAhead(1)
	r.publish(16)
	r.receive(0, 1)
	r.publish(21)
	if got = append(got, second.collect(1, false)...); !slices.Equal(got, ids(16, 22)) {
		t.Fatalf("second listener got %v", got)
	}
	if got := first.collect(6, false); !slices.Equal(got, ids(17, 22)) {
		t.Fatalf("first listener got %v", got)
	}
}
