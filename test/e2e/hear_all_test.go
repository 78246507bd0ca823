package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/redis/redistest"
	"github.com/wagate/wagate/test/wasim"
)

// TestEveryInstanceHearsEveryDevice runs three gateway processes with Redis and 20
// devices spread over them, a root-namespace listener on each: every listener hears
// every event of every device, exactly the event log, in order, once, also across a
// 10 s Redis outage.
func TestEveryInstanceHearsEveryDevice(t *testing.T) {
	checkClients(t)
	t.Parallel()
	bin := gatewayBinary(t)
	sim := wasim.Start(t)
	dsn := dbtest.PostgresURL(t)
	rs := redistest.Start(t)
	gws := make([]*gatewayProcess, 3)
	listeners := make([]*process, 3)
	for i := range gws {
		cfg := simConfig(t, sim, dsn)
		cfg.RedisURL = rs.URL()
		gws[i] = startProcess(t, bin, cfg)
		listeners[i] = listener(t, "js", gws[i].base, "/", apiKey, "TRANSPORTS=websocket")
		listeners[i].expect("connect")
	}
	const devices = 20
	phones := make([]string, devices)
	for i := range devices {
		phones[i] = fmt.Sprintf("1555900%04d", i)
		linkDevice(t, gws[i%3].api, sim, phones[i])
	}
	say := func(round int) {
		for i, phone := range phones {
			if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15559999999", To: phone, Text: fmt.Sprintf("round %d to %d", round, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	say(1)
	rs.Stop() // the instances go on, and catch up when it is back
	say(2)
	time.Sleep(10 * time.Second)
	for _, g := range gws {
		if status := g.api.callStatus("GET", "/readyz", nil); status != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of %s answered %d with Redis down, want 503", g.instance(), status)
		}
	}
	rs.Start()
	say(3)

	// The whole log, once every message is in it.
	var log []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var messages int
		if log, messages = eventIDs(t, gws[0].api); messages == 3*devices {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d messages, want %d", messages, 3*devices)
		}
	}
	for i, p := range listeners {
		var heard []string
		for len(heard) < len(log) {
			ev := p.next(time.Minute)
			if id, ok := ev.Data["eventId"].(string); ok {
				heard = append(heard, id)
			}
		}
		if !slices.Equal(heard, log) {
			t.Fatalf("the listener on %s heard %d events that differ from the log's %d (lost, repeated or reordered)", gws[i].instance(), len(heard), len(log))
		}
		p.quiet(200 * time.Millisecond)
	}
	t.Logf("3 instances, %d devices: each listener heard all %d events of the log, in order, once, across a 10 s Redis outage", devices, len(log))
}

// eventIDs reads the ids of the whole event log, and counts its messages.
func eventIDs(t *testing.T, api client) (ids []string, messages int) {
	t.Helper()
	for after := ""; ; {
		var page struct {
			Events []struct{ ID, Event string }
			Next   string
		}
		api.call("GET", "/api/v1/events?limit=1000&after="+after, "", http.StatusOK, &page)
		for _, e := range page.Events {
			ids = append(ids, e.ID)
			if e.Event == "message" {
				messages++
			}
		}
		if len(page.Events) < 1000 {
			return ids, messages
		}
		after = page.Next
	}
}
