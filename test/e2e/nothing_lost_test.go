package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/test/logbuf"
	"github.com/wagate/wagate/test/wasim"
)

// TestKillNineLosesNothing kills the gateway with SIGKILL while the simulator delivers a
// burst of messages, and starts it again: every message is in the event feed exactly
// once, a listener that recovers with stock socket.io-client options gets each exactly
// once, and the simulator has nothing left to deliver (every message was acknowledged,
// and only once stored).
func TestKillNineLosesNothing(t *testing.T) {
	checkClients(t)
	t.Parallel()
	bin := gatewayBinary(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			sim := wasim.Start(t)
			dsn := ""
			if db == "postgres" {
				dsn = dbtest.PostgresURL(t)
			}
			gw := startProcess(t, bin, simConfig(t, sim, dsn))
			const phone, contact, burst = "15550007001", "15550007002", 500
			id := linkDevice(t, gw.api, sim, phone)
			p := listener(t, "js", gw.base, "/device/"+id, apiKey, "RECONNECT=1", "TRANSPORTS=websocket", "RECOVER=1")
			p.expect("connect")

			sent := make(chan error, 1)
			go func() {
				for i := range burst {
					if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: contact, To: phone, Text: "m" + strconv.Itoa(i)}); err != nil {
						sent <- fmt.Errorf("message %d: %w", i, err)
						return
					}
				}
				sent <- nil
			}()
			// The simulator queues the burst at once and delivers it as the gateway takes it.
			// A quarter in, the gateway dies without a chance to clean up.
			for deadline := time.Now().Add(time.Minute); countMessages(t, gw.api, id) < burst/4; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the burst did not start reaching the event log")
				}
			}
			gw.kill()
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if a, err := sim.Account(phone); err != nil || a.Pending == 0 {
				t.Fatalf("nothing pending with the gateway dead (%v): the kill came too late to test anything", err)
			}
			gw.start()

			var feed []string
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if feed = messageTexts(t, gw.api, "/api/v1/devices/"+id+"/events"); len(feed) >= burst {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the restart the feed holds %d of %d messages", len(feed), burst)
				}
			}
			checkExactlyOnce(t, "event feed", feed, burst)

			var heard, connects []string
			for len(heard) < burst {
				switch ev := p.next(time.Minute); ev.Event {
				case "message":
					heard = append(heard, ev.Data["message"].(map[string]any)["text"].(string))
				case "connect":
					connects = append(connects, fmt.Sprint("recovered=", ev.Recovered))
				}
			}
			if len(connects) != 1 || connects[0] != "recovered=true" {
				t.Fatalf("the listener reconnected %v, want once, recovering what it missed", connects)
			}
			checkExactlyOnce(t, "recovering listener", heard, burst)
			p.quiet(500 * time.Millisecond) // and nothing more: no duplicate after the last

			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				a, err := sim.Account(phone)
				if err != nil {
					t.Fatal(err)
				}
				if a.Pending == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the simulator still has %d messages to deliver: %v", a.Pending, a.Devices)
				}
			}
		})
	}
}

// checkExactlyOnce checks that texts are m0 … m<n-1>, each once, in order.
func checkExactlyOnce(t *testing.T, who string, texts []string, n int) {
	t.Helper()
	if len(texts) != n {
		t.Fatalf("%s: %d messages, want %d", who, len(texts), n)
	}
	for i, text := range texts {
		if text != "m"+strconv.Itoa(i) {
			t.Fatalf("%s: message %d is %q, want m%d (lost, duplicated or reordered)", who, i, text, i)
		}
	}
}

// messageTexts reads a feed from its start and returns the texts of its message events.
func messageTexts(t *testing.T, api client, feed string) []string {
	t.Helper()
	var texts []string
	for _, e := range readLog(t, api, feed) {
		if e.Event == "message" {
			texts = append(texts, e.Data.Message.Text)
		}
	}
	return texts
}

// logEvent is an event of a REST event feed.
type logEvent struct {
	ID, Event string
	Data      struct {
		DeviceID string
		Message  struct{ Text string }
	}
}

// readLog reads a whole event feed (/api/v1/events or a device's), page by page.
func readLog(t *testing.T, api client, feed string) []logEvent {
	t.Helper()
	var events []logEvent
	for after := ""; ; {
		var page struct {
			Events []logEvent
			Next   string
		}
		api.call("GET", feed+"?limit=1000&after="+after, "", http.StatusOK, &page)
		events = append(events, page.Events...)
		if len(page.Events) < 1000 {
			return events
		}
		after = page.Next
	}
}

func countMessages(t *testing.T, api client, id string) int {
	return len(messageTexts(t, api, "/api/v1/devices/"+id+"/events"))
}

// gateway processes: the binary, run as a user runs it.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// gatewayBinary builds cmd/wagate once for the package's tests.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wagate-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wagate")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/wagate/wagate/cmd/wagate").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// gatewayProcess is the gateway binary running on a fixed address and database.
type gatewayProcess struct {
	t    *testing.T
	bin  string
	env  []string
	base string
	api  client
	cmd  *exec.Cmd
	logs logbuf.Buffer
}

func startProcess(t *testing.T, bin string, cfg bootstrap.Config) *gatewayProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	g := &gatewayProcess{t: t, bin: bin, base: "http://127.0.0.1:" + strconv.Itoa(port), env: []string{
		"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "INSTANCE_ID=gateway-" + strconv.Itoa(port), "API_KEY=" + cfg.APIKey, "DATA_DIR=" + cfg.DataDir,
		"DATABASE_URL=" + cfg.DatabaseURL, "WHATSAPP_SERVER_URL=" + cfg.WhatsAppServerURL,
		"WHATSAPP_SERVER_ROOT_KEY=" + cfg.WhatsAppServerRootKey, "LOG_LEVEL=info", "LOG_FORMAT=text",
	}}
	if cfg.RedisURL != "" {
		g.env = append(g.env, "REDIS_URL="+cfg.RedisURL)
	}
	for _, p := range cfg.WebhookAllow {
		g.env = append(g.env, "WEBHOOK_ALLOW="+p.String()) // one network is all the tests need
	}
	g.api = client{t, g.base}
	t.Cleanup(func() {
		g.kill()
		leaks.scan("gateway process log", []byte(g.logs.String()))
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.logs.String())
		}
	})
	g.start()
	return g
}

// start runs the binary and waits until it answers.
func (g *gatewayProcess) start() {
	g.t.Helper()
	g.cmd = exec.Command(g.bin)
	g.cmd.Env = append(os.Environ(), g.env...)
	g.cmd.Stdout, g.cmd.Stderr = &g.logs, &g.logs
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(g.base + "/healthz"); err == nil {
			res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("the gateway did not start:\n%s", g.logs.String())
		}
	}
}

// kill ends the process with SIGKILL: no shutdown, no cleanup.
func (g *gatewayProcess) kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	_ = g.cmd.Wait()
	g.cmd = nil
}
