package redis_test

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wagate/wagate/adapters/outbound/redis"
	"github.com/wagate/wagate/adapters/outbound/redis/redistest"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/logbuf"
)

// instance is a Stream run as a gateway would, counting its wakes.
type instance struct {
	*redis.Stream
	woken chan struct{}
	logs  *logbuf.Buffer
}

func run(t *testing.T, url string, o redis.Options) *instance {
	t.Helper()
	logs := &logbuf.Buffer{}
	s, err := redis.New(url, slog.New(slog.NewTextHandler(logs, nil)), o)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{Stream: s, woken: make(chan struct{}, 100), logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, func() { in.woken <- struct{}{} }); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run does not return once its context ends")
		}
		s.Close()
	})
	// Run starts reading where the stream ends: let it get there before announcing.
	time.Sleep(200 * time.Millisecond)
	return in
}

func (in *instance) expectWake(t *testing.T, within time.Duration, why string) {
	t.Helper()
	select {
	case <-in.woken:
	case <-time.After(within):
		t.Fatalf("not woken within %v: %s", within, why)
	}
}

func (in *instance) expectNoWake(t *testing.T, d time.Duration, why string) {
	t.Helper()
	select {
	case <-in.woken:
		t.Fatalf("woken: %s", why)
	case <-time.After(d):
	}
}

// entries reads the stream's announced event ids, oldest first.
func entries(t *testing.T, url string) []string {
	t.Helper()
	opts, _ := goredis.ParseURL(url)
	c := goredis.NewClient(opts)
	defer c.Close()
	msgs, err := c.XRange(context.Background(), redis.DefaultKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Values["event"].(string))
	}
	return ids
}

func waitEntries(t *testing.T, url string, last string) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = entries(t, url); len(got) > 0 && got[len(got)-1] == last {
			return got
		}
	}
	t.Fatalf("the stream ends with %v, want event %s last", got, last)
	return nil
}

func TestAnnouncementsWakeTheOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b, c := run(t, srv.URL(), redis.Options{}), run(t, srv.URL(), redis.Options{}), run(t, srv.URL(), redis.Options{})

	a.Announce(5)
	b.expectWake(t, 2*time.Second, "another instance announced an event")
	c.expectWake(t, 2*time.Second, "another instance announced an event")
	a.expectNoWake(t, 300*time.Millisecond, "by its own announcement: it would echo")
	if got := waitEntries(t, srv.URL(), "5"); len(got) != 1 {
		t.Fatalf("stream %v, want one announcement of event 5", got)
	}

	// An id older than one announced already tells nothing new.
	a.Announce(3)
	b.expectNoWake(t, 300*time.Millisecond, "by an announcement of an older event")

	// A burst is coalesced: the newest id goes out, not one entry per event.
	for id := device.EventID(6); id <= 1000; id++ {
		a.Announce(id)
	}
	got := waitEntries(t, srv.URL(), "1000")
	if len(got) > 100 {
		t.Fatalf("%d entries for a burst of 995 announcements: they are not coalesced", len(got))
	}
	b.expectWake(t, 2*time.Second, "by the burst")
}

func TestTheStreamIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	a := run(t, srv.URL(), redis.Options{MaxLen: 10})
	for id := 1; id <= 400; id++ {
		a.Announce(device.EventID(id))
		waitEntries(t, srv.URL(), device.EventID(id).String())
	}
	// MAXLEN ~ trims whole nodes of the stream (100 entries by default).
	if n := len(entries(t, srv.URL())); n > 200 {
		t.Fatalf("%d entries after 400 announcements with MaxLen 10", n)
	}
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	obs := &observer{failed: map[string]int{}}
	a, b := run(t, srv.URL(), redis.Options{Observer: obs}), run(t, srv.URL(), redis.Options{})
	a.Announce(1)
	b.expectWake(t, 2*time.Second, "announcement before the outage")

	// Nothing announced during this outage: b wakes anyway when Redis comes back, as it
	// cannot know what it missed.
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err == nil {
		t.Fatal("Ping succeeds with Redis stopped")
	}
	time.Sleep(time.Second)
	srv.Start()
	b.expectWake(t, 5*time.Second, "Redis came back")
	a.expectWake(t, 5*time.Second, "Redis came back")
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after Redis came back: %v", err)
	}

	// Announcements during an outage neither block nor get lost: the newest is sent
	// when Redis comes back.
	srv.Stop()
	start := time.Now()
	for id := device.EventID(2); id <= 50; id++ {
		a.Announce(id)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("announcing with Redis down took %v: it must not block", d)
	}
	time.Sleep(2 * time.Second) // both loops fail and back off
	b.expectNoWake(t, 0, "while Redis is down")
	if f, reachable := obs.state(); f["announce"] == 0 || f["read"] == 0 || reachable {
		t.Fatalf("during the outage the observer knows failures %v, reachable %v", f, reachable)
	}
	srv.Start()
	waitEntries(t, srv.URL(), "50")
	b.expectWake(t, 5*time.Second, "Redis came back")
	a.Announce(51)
	for {
		b.expectWake(t, 3*time.Second, "announcement after the outage")
		if got := entries(t, srv.URL()); got[len(got)-1] == "51" {
			break
		}
	}

	if _, reachable := obs.state(); !reachable {
		t.Error("the observer was not told that Redis is back")
	}

	// Failures are logged, not once per retry.
	for _, in := range []*instance{a, b} {
		if n := strings.Count(in.logs.String(), "level=WARN"); n == 0 || n > 4 {
			t.Errorf("%d warnings during two outages, want at most one per loop and outage:\n%s", n, in.logs)
		}
		if !strings.Contains(in.logs.String(), "again") {
			t.Errorf("coming back is not logged:\n%s", in.logs)
		}
	}
}

// observer records what a Stream tells its Observer.
type observer struct {
	mu        sync.Mutex
	failed    map[string]int
	reachable bool
}

func (o *observer) RedisFailed(op string)  { o.mu.Lock(); o.failed[op]++; o.mu.Unlock() }
func (o *observer) RedisReachable(ok bool) { o.mu.Lock(); o.reachable = ok; o.mu.Unlock() }

func (o *observer) state() (map[string]int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.failed), o.reachable
}
