package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/redis/redistest"
	"github.com/wagate/wagate/test/wasim"
)

// TestEventsCrossInstancesThroughRedis runs two gateways on one PostgreSQL and one Redis,
// with feeds that poll the log once a minute: a listener on instance B hears, within
// seconds, the events of a device driven through instance A's API, which only Redis can
// have told B about. Redis then stops for 10 s: A goes on delivering to its own
// listeners, B says it is not ready, and once Redis is back B's listeners get what they
// missed, in order and once.
func TestEventsCrossInstancesThroughRedis(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	dsn := dbtest.PostgresURL(t)
	rs := redistest.Start(t)
	var gws []*live
	for range 2 {
		cfg := simConfig(t, sim, dsn)
		cfg.RedisURL = rs.URL()
		cfg.FeedPoll = time.Minute
		gws = append(gws, startLive(t, cfg))
	}
	a, b := gws[0], gws[1]

	// Created once both run: neither restores a session of it.
	var d deviceJSON
	a.api.call("POST", "/api/v1/devices", `{"name":"Across"}`, http.StatusCreated, &d)
	onA := listener(t, "js", a.base(), "/device/"+d.ID, apiKey, "TRANSPORTS=websocket")
	onB := listener(t, "js", b.base(), "/device/"+d.ID, apiKey, "TRANSPORTS=websocket")
	rootB := listener(t, "js", b.base(), "/", apiKey, "TRANSPORTS=websocket")
	for _, p := range []*process{onA, onB} {
		p.expect("connect")
		expectState(t, p, "created", d.ID) // the welcome: the state at connection
	}
	rootB.expect("connect")
	var seenA, seenB, seenRootB []string

	// Through A: a session that starts pairing (never scanned), then stops.
	a.api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
	start := time.Now()
	seenB = readUntil(t, onB, d.ID, seenB, 5*time.Second, func(ev clientEvent) bool { return ev.Event == "qr" })
	t.Logf("B heard A's device pairing %v after the connect call", time.Since(start).Round(time.Millisecond))
	a.api.call("POST", "/api/v1/devices/"+d.ID+"/disconnect", "", http.StatusOK, nil)
	log := eventLog(t, a.api, d.ID)
	last := log[len(log)-1]
	for _, s := range []struct {
		p    *process
		seen *[]string
	}{{onA, &seenA}, {onB, &seenB}, {rootB, &seenRootB}} {
		*s.seen = readUntil(t, s.p, d.ID, *s.seen, 5*time.Second, func(ev clientEvent) bool { return ev.Data["eventId"] == last })
		if !slices.Equal(*s.seen, log) {
			t.Fatalf("a listener got events %v, want the log's %v, in order and once", *s.seen, log)
		}
	}

	// Redis down for 10 s while A's device changes again.
	rs.Stop()
	down := time.Now()
	a.api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
	seenA = readUntil(t, onA, d.ID, seenA, 5*time.Second, func(ev clientEvent) bool { return ev.Event == "qr" })
	a.api.call("POST", "/api/v1/devices/"+d.ID+"/disconnect", "", http.StatusOK, nil)
	log = eventLog(t, a.api, d.ID)
	last = log[len(log)-1]
	seenA = readUntil(t, onA, d.ID, seenA, 5*time.Second, func(ev clientEvent) bool { return ev.Data["eventId"] == last })
	if !slices.Equal(seenA, log) {
		t.Fatalf("A's own listener got %v with Redis down, want the log's %v", seenA, log)
	}
	if status, body := readyz(t, b.base()); status != http.StatusServiceUnavailable || !strings.Contains(body, "Redis is not reachable") {
		t.Fatalf("B's /readyz with Redis down: %d %s, want 503 naming Redis", status, body)
	}
	onB.quiet(10*time.Second - time.Since(down)) // B cannot know before its poll
	if status, body := readyz(t, a.base()); status != http.StatusServiceUnavailable {
		t.Fatalf("A's /readyz with Redis down: %d %s", status, body)
	}

	rs.Start()
	back := time.Now()
	for _, s := range []struct {
		p    *process
		seen *[]string
	}{{onB, &seenB}, {rootB, &seenRootB}} {
		*s.seen = readUntil(t, s.p, d.ID, *s.seen, 10*time.Second, func(ev clientEvent) bool { return ev.Data["eventId"] == last })
		if !slices.Equal(*s.seen, log) {
			t.Fatalf("B's listener got events %v after the outage, want the log's %v, in order and once", *s.seen, log)
		}
	}
	t.Logf("B caught up %v after Redis came back", time.Since(back).Round(time.Millisecond))
	onB.quiet(500 * time.Millisecond) // and nothing twice
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, body := readyz(t, b.base())
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's /readyz after Redis came back: %d %s", status, body)
		}
	}
}

// readUntil appends to seen the event ids of device id that p gets, until one satisfies
// stop, failing after timeout.
func readUntil(t *testing.T, p *process, id string, seen []string, timeout time.Duration, stop func(clientEvent) bool) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev := p.next(time.Until(deadline))
		if ev.Data["deviceId"] != id {
			t.Fatalf("event %+v of another device", ev)
		}
		eid, _ := ev.Data["eventId"].(string)
		if eid == "" {
			t.Fatalf("event %+v without an id", ev)
		}
		seen = append(seen, eid)
		if stop(ev) {
			return seen
		}
	}
}

// eventLog lists the ids of the device's events in the log, oldest first.
func eventLog(t *testing.T, api client, id string) []string {
	t.Helper()
	var page struct {
		Events []struct{ ID string } `json:"events"`
	}
	api.call("GET", "/api/v1/devices/"+id+"/events?limit=1000", "", http.StatusOK, &page)
	var ids []string
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		t.Fatal("the log holds no event of the device")
	}
	return ids
}

func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return res.StatusCode, string(b)
}
