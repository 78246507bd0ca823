package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/test/wasim"
)

// TestInstancesShareSessions runs three gateway processes on one PostgreSQL database:
// the devices linked through one of them spread over all three; when one is killed
// (SIGKILL), the others take its sessions over within 15 s, the messages sent to them
// meanwhile all arrive, once, and a listener of the killed instance resumes on another
// with no gap; when one shuts down (SIGTERM), it hands its sessions
// over at once; and no device ever has two connections to WhatsApp at a time.
func TestInstancesShareSessions(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	dsn := dbtest.PostgresURL(t)
	gws := startInstances(t, sim, dsn, "")
	const devices = 6
	ids, phones := make([]string, devices), make([]string, devices)
	for i := range ids {
		phones[i] = "1555700" + fmt.Sprintf("%04d", i)
		ids[i] = linkDevice(t, gws[0].api, sim, phones[i])
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owners := func() map[string][]string { // instance -> devices it holds unexpired
		rows, err := db.QueryContext(context.Background(), "SELECT owner, device_id FROM device_leases WHERE expires_at > now() ORDER BY device_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var owner, id string
			if err := rows.Scan(&owner, &id); err != nil {
				t.Fatal(err)
			}
			out[owner] = append(out[owner], id)
		}
		return out
	}
	held := owners()
	t.Logf("sessions per instance: %v", counts(held))
	if len(held) != 3 || slices.Max(counts(held))-slices.Min(counts(held)) > 1 {
		t.Fatalf("%d devices spread over the instances as %v, want evenly over 3", devices, counts(held))
	}

	// A message sent through an instance that does not run the device's session is
	// carried to the one that does.
	byInstance := map[string]*gatewayProcess{}
	for _, g := range gws {
		byInstance[g.instance()] = g
	}
	for owner, held := range held {
		other := gws[(slices.Index(gws, byInstance[owner])+1)%3]
		// The request's id goes along, and comes back once.
		req, _ := http.NewRequest("POST", other.base+"/api/v1/devices/"+held[0]+"/messages", strings.NewReader(`{"to":"+15557999998","text":"via another instance"}`))
		req.Header.Set("X-API-Key", apiKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "carried-"+owner)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var receipt struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&receipt)
		res.Body.Close()
		if rid := res.Header.Values("X-Request-Id"); err != nil || res.StatusCode != http.StatusCreated || len(rid) != 1 || rid[0] != "carried-"+owner {
			t.Fatalf("sent through %s: %s, X-Request-Id %q, %v", other.instance(), res.Status, rid, err)
		}
		phone := phones[slices.Index(ids, held[0])]
		sent, err := sim.Sent(phone)
		if err != nil || len(sent) == 0 || sent[len(sent)-1].ID != receipt.ID {
			t.Fatalf("sent through %s for %s's device: the simulator has %+v (%v), want %s", other.instance(), owner, sent, err, receipt.ID)
		}
	}

	// kill -9 of the instance with the most sessions; messages keep coming to its devices.
	// A listener of the victim's resumes on a survivor from the last event it heard.
	victim := slices.IndexFunc(gws, func(g *gatewayProcess) bool { return len(held[g.instance()]) == slices.Max(counts(held)) })
	orphans := held[gws[victim].instance()]
	survivor := gws[(victim+1)%3]
	before := resumer(t, gws[victim].base, "0")
	before.expect("connect")
	killed := time.Now()
	gws[victim].kill()
	var heard []string
	for ev := before.next(10 * time.Second); ev.Event != "disconnect"; ev = before.next(10 * time.Second) {
		heard = append(heard, ev.EventID)
	}
	for i, id := range ids {
		if slices.Contains(orphans, id) {
			if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15557999999", To: phones[i], Text: "while orphaned " + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	takeover := waitReconnected(t, survivor.api, orphans, killed, 30*time.Second)
	t.Logf("takeover after kill -9: %d sessions ready again on the other instances in %v", len(orphans), takeover.Round(time.Millisecond))
	if takeover > 15*time.Second {
		t.Fatalf("takeover took %v, want at most 15 s", takeover)
	}
	for i, id := range ids {
		if !slices.Contains(orphans, id) {
			continue
		}
		want := "while orphaned " + strconv.Itoa(i)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			texts := messageTexts(t, survivor.api, "/api/v1/devices/"+id+"/events")
			if slices.Contains(texts, want) {
				if len(texts) != 1 {
					t.Fatalf("device %s: messages %q, want %q once", id, texts, want)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("device %s: the message sent while its instance was dead never arrived", id)
			}
		}
	}

	last := "0"
	if len(heard) > 0 {
		last = heard[len(heard)-1]
	}
	after := resumer(t, survivor.base, last)
	after.expect("connect")
	log := readLog(t, survivor.api, "/api/v1/events")
	for len(heard) < len(log) {
		heard = append(heard, after.next(10*time.Second).EventID)
	}
	for i, e := range log {
		if heard[i] != e.ID {
			t.Fatalf("the listener that resumed on another instance after kill -9 heard event %s where the log has %s (a gap or a repeat)", heard[i], e.ID)
		}
	}
	t.Logf("a listener of the killed instance resumed on %s: %d events, no gap, no repeat", survivor.instance(), len(log))

	// A graceful shutdown hands its sessions over without waiting for their leases.
	held = owners()
	leaving := gws[(victim+2)%3]
	handed := held[leaving.instance()]
	stopped := time.Now()
	leaving.terminate()
	handover := waitReconnected(t, survivor.api, handed, stopped, 30*time.Second)
	t.Logf("handover on shutdown: %d sessions ready again in %v", len(handed), handover.Round(time.Millisecond))
	if handover > 8*time.Second {
		t.Fatalf("handover took %v: the leases were not released", handover)
	}
	if len(owners()) != 1 {
		t.Fatalf("after two instances left, the sessions are held by %v, want the last one", counts(owners()))
	}
	if n := sim.Stats().MaxConcurrentLoginsPerDevice; n != 1 {
		t.Fatalf("a device had %d connections to WhatsApp at once", n)
	}
}

// resumer starts a root-namespace listener (test/js/resume.mjs) that resumes after
// lastEventID.
func resumer(t *testing.T, base, lastEventID string) *process {
	return start(t, []string{"WAGATE_URL=" + base, "API_KEY=" + apiKey, "LAST_EVENT_ID=" + lastEventID}, "node", scriptPath(t, "js", "resume.mjs"))
}

// startInstances starts three gateway processes on one PostgreSQL database (dsn),
// against the simulator, with Redis at redisURL unless it is "".
func startInstances(t *testing.T, sim *wasim.Server, dsn, redisURL string) []*gatewayProcess {
	t.Helper()
	bin := gatewayBinary(t)
	gws := make([]*gatewayProcess, 3)
	for i := range gws {
		cfg := simConfig(t, sim, dsn)
		cfg.RedisURL = redisURL
		gws[i] = startProcess(t, bin, cfg)
	}
	return gws
}

func counts(held map[string][]string) []int {
	var out []int
	for _, ids := range held {
		out = append(out, len(ids))
	}
	return out
}

// waitReconnected waits until every device of ids was ready again after since, and
// returns how long after since the last one was.
func waitReconnected(t testing.TB, api client, ids []string, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	var last time.Time
	for _, id := range ids {
		for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
			var d struct {
				Status          string
				LastConnectedAt *time.Time
			}
			api.call("GET", "/api/v1/devices/"+id, "", http.StatusOK, &d)
			if d.Status == "ready" && d.LastConnectedAt != nil && d.LastConnectedAt.After(since) {
				if d.LastConnectedAt.After(last) {
					last = *d.LastConnectedAt
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("device %s is %s, not ready again within %v", id, d.Status, within)
			}
		}
	}
	return last.Sub(since)
}

// instance is the process's instance id (INSTANCE_ID).
func (g *gatewayProcess) instance() string {
	for _, kv := range g.env {
		if id, ok := strings.CutPrefix(kv, "INSTANCE_ID="); ok {
			return id
		}
	}
	g.t.Fatal("the gateway process has no INSTANCE_ID")
	return ""
}

// terminate stops the process as SIGTERM does and waits for it.
func (g *gatewayProcess) terminate() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	_ = g.cmd.Wait()
	g.cmd = nil
}
