package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/redis/redistest"
	"github.com/wagate/wagate/test/wasim"
)

// TestEveryInstanceHearsEveryDevice runs three gateway processes with Redis and 20
// devices spread over them, and on each instance a root-namespace listener and a
// listener of every device's namespace: every listener hears every event of its scope,
// exactly the event log, in order, once, also across a 10 s Redis outage.
func TestEveryInstanceHearsEveryDevice(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	rs := redistest.Start(t)
	gws := startInstances(t, sim, dbtest.PostgresURL(t), rs.URL())
	roots := make([]*process, 3)
	for i := range gws {
		roots[i] = listener(t, "js", gws[i].base, "/", apiKey, "TRANSPORTS=websocket")
		roots[i].expect("connect")
	}
	const devices = 20
	ids, phones := make([]string, devices), make([]string, devices)
	for i := range devices {
		phones[i] = fmt.Sprintf("1555900%04d", i)
		ids[i] = linkDevice(t, gws[i%3].api, sim, phones[i])
	}
	// One connection per instance carries the 20 device namespaces; each replays its
	// device's log from the start (lastEventId 0), then hears it live.
	namespaces := make([]string, devices)
	for i, id := range ids {
		namespaces[i] = "/device/" + id
	}
	deviceListeners := make([]*process, 3)
	for i, g := range gws {
		deviceListeners[i] = start(t, []string{"WAGATE_URL=" + g.base, "API_KEY=" + apiKey, "LAST_EVENT_ID=0",
			"NAMESPACES=" + strings.Join(namespaces, ",")}, "node", scriptPath(t, "js", "listen-many.mjs"))
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
	var log []logEvent
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		log = readLog(t, gws[0].api, "/api/v1/events")
		if messages := len(slices.DeleteFunc(slices.Clone(log), func(e logEvent) bool { return e.Event != "message" })); messages == 3*devices {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the log holds %d messages, want %d", messages, 3*devices)
		}
	}
	all := make([]string, len(log))
	perDevice := map[string][]string{} // namespace -> ids of its device's events
	for i, e := range log {
		all[i] = e.ID
		perDevice["/device/"+e.Data.DeviceID] = append(perDevice["/device/"+e.Data.DeviceID], e.ID)
	}
	for i, p := range roots {
		var heard []string
		for len(heard) < len(all) {
			ev := p.next(time.Minute)
			if id, ok := ev.Data["eventId"].(string); ok {
				heard = append(heard, id)
			}
		}
		if !slices.Equal(heard, all) {
			t.Fatalf("the root listener on %s heard %d events that differ from the log's %d (lost, repeated or reordered)", gws[i].instance(), len(heard), len(all))
		}
		p.quiet(200 * time.Millisecond)
	}
	for i, p := range deviceListeners {
		heard := map[string][]string{}
		for n := 0; n < len(all); {
			switch ev := p.next(time.Minute); ev.Event {
			case "connect":
			case "connect_error":
				t.Fatalf("%s on %s: connect_error %q", ev.Namespace, gws[i].instance(), ev.Message)
			default:
				heard[ev.Namespace] = append(heard[ev.Namespace], ev.EventID)
				n++
			}
		}
		for _, ns := range namespaces {
			if !slices.Equal(heard[ns], perDevice[ns]) {
				t.Fatalf("the listener of %s on %s heard %v, want the device's log %v", ns, gws[i].instance(), heard[ns], perDevice[ns])
			}
		}
	}
	t.Logf("3 instances, %d devices: each root listener heard all %d events of the log, and each of the %d device listeners its device's, in order, once, across a 10 s Redis outage",
		devices, len(all), 3*devices)
}
