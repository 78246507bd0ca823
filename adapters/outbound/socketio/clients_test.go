package socketio

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	engine "github.com/zishang520/socket.io/servers/engine/v3"

	"github.com/wagate/wagate/domain/device"
)

// The real clients of test/js (socket.io-client from npm) and test/python (Debian's
// python3-socketio), as the e2e tests run them.
const debianPython = "/usr/bin/python3"

func clientScript(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "..", "..", "test"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// client is a client program printing one JSON line per thing that happens; closing
// its stdin ends it.
type client struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan map[string]any
}

func startClient(t *testing.T, r *rig, env []string, name string, args ...string) *client {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append(env, "WAGATE_URL="+r.base, "API_KEY="+testKey)...)
	cmd.Stderr = os.Stderr
	c := &client{t: t, lines: make(chan map[string]any, 10_000)}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				t.Errorf("client printed %q", sc.Text())
				continue
			}
			c.lines <- m
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return c
}

func (c *client) next() map[string]any {
	c.t.Helper()
	select {
	case m, ok := <-c.lines:
		if !ok {
			c.t.Fatal("client exited")
		}
		return m
	case <-time.After(15 * time.Second):
		c.t.Fatal("client printed nothing for 15s")
	}
	return nil
}

func (c *client) expect(event string) map[string]any {
	c.t.Helper()
	m := c.next()
	if m["event"] != event {
		c.t.Fatalf("got %v, want %s", m, event)
	}
	return m
}

// messages reads n message events and returns their eventIds, failing on anything
// else or on a handler called with other than args arguments.
func (c *client) messages(n int, args float64) []string {
	c.t.Helper()
	ids := make([]string, 0, n)
	for len(ids) < n {
		m := c.next()
		if m["event"] != "message" || (m["args"] != nil && m["args"] != args) {
			c.t.Fatalf("after %d messages: %v", len(ids), m)
		}
		ids = append(ids, m["eventId"].(string))
	}
	return ids
}

func needJS(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(clientScript(t, "js", "node_modules", "socket.io-client")); err != nil {
		t.Fatal("socket.io-client is not installed: run `npm ci --prefix test/js` (make test does)")
	}
}

// TestSocketIOClientRecovers: socket.io-client opted into recovery loses its transport
// while 1,000 events are published; it reconnects on its own with socket.recovered true
// and gets all 1,000 in order, once each. A client that did not opt in, beside it,
// gets one argument per event.
func TestSocketIOClientRecovers(t *testing.T) {
	needJS(t)
	t.Parallel()
	r := newRig(t, Options{})
	nsp := "NAMESPACE=/device/" + r.devs[0].String()
	js := startClient(t, r, []string{nsp, "RECOVER=1"}, "node", clientScript(t, "js", "resume.mjs"))
	plain := startClient(t, r, []string{nsp}, "node", clientScript(t, "js", "resume.mjs"))
	for _, c := range []*client{js, plain} {
		if m := c.expect("connect"); m["recovered"] != false {
			t.Fatalf("first connect: %v", m)
		}
	}
	if m := js.expect("state"); m["args"] != 2.0 {
		t.Fatalf("welcome of a client that opted in: %v", m)
	}
	if m := plain.expect("state"); m["args"] != 1.0 {
		t.Fatalf("welcome of a client that did not opt in: %v", m)
	}
	first := r.receive(0, 1)
	js.messages(1, 2)
	plain.messages(1, 1)

	if _, err := io.WriteString(js.stdin, "cut\n"); err != nil {
		t.Fatal(err)
	}
	js.expect("disconnect")
	last := r.receive(0, 1000)
	if m := js.expect("connect"); m["recovered"] != true {
		t.Fatalf("reconnect: %v, want recovered", m)
	}
	var want []string
	for id := first + 1; id <= last; id++ {
		want = append(want, id.String())
	}
	if got := js.messages(1000, 2); !slices.Equal(got, want) {
		t.Fatalf("recovered client got %d events, not the 1000 in order", len(got))
	}
	if got := plain.messages(1000, 1); !slices.Equal(got, want) {
		t.Fatalf("client that stayed got %d events, not the 1000 in order", len(got))
	}
}

// TestPythonClientResumes: python-socketio, with lastEventId in its auth and the
// spec's one-argument handlers, gets every event after it once, then live ones.
func TestPythonClientResumes(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import socketio").Run(); err != nil {
		t.Fatal("python3-socketio is not installed: apt-get install python3-socketio python3-websocket python3-requests")
	}
	t.Parallel()
	r := newRig(t, Options{})
	from := r.receive(0, 10)
	r.receive(1, 500)
	r.receive(0, 500)
	py := startClient(t, r, []string{"NAMESPACE=/", "LAST_EVENT_ID=" + from.String()}, debianPython, "-u", clientScript(t, "python", "resume.py"))
	py.expect("connect")
	last := r.receive(1, 100)
	if !r.waitPublished(last, 10*time.Second) {
		t.Fatal("events not published")
	}
	want := r.expected(from, nil)
	got := py.messages(len(want), 0)
	// Handlers run in threads of their own: compare as sets, with no duplicate.
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d after %s", len(got), len(want), from)
	}
	select {
	case m := <-py.lines:
		t.Fatalf("more than expected: %v", m)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestClientUpgradingFromPollingMissesNothing: socket.io-client's default, polling then
// an upgrade to a websocket, while events are published without a pause. It gets every
// one once, in order, across the upgrade; then events go straight into the websocket's
// queue (broadcast.go), and must not overtake what the engine buffered meanwhile.
func TestClientUpgradingFromPollingMissesNothing(t *testing.T) {
	needJS(t)
	t.Parallel()
	r := newRig(t, Options{})
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				r.receive(0, 1)
			}
		}
	}()
	c := startClient(t, r, []string{"NAMESPACE=/device/" + r.devs[0].String(), "TRANSPORTS=default"}, "node", clientScript(t, "js", "listen.mjs"))
	// It connects (over polling, or a websocket if the upgrade came first), then hears
	// every event, and the welcome among the first; it upgrades once, at a time of its own.
	var ids []string
	connected, welcomed := false, false
	for upgraded := -1; upgraded < 0 || len(ids) < upgraded+300; {
		switch m := c.next(); {
		case m["event"] == "message" && connected:
			ids = append(ids, m["data"].(map[string]any)["eventId"].(string))
		case m["event"] == "upgrade" && upgraded < 0:
			upgraded = len(ids)
		case m["event"] == "connect" && !connected:
			connected = true
		case m["event"] == "state" && connected && !welcomed:
			welcomed = true
		default:
			t.Fatalf("after %d messages: %v", len(ids), m)
		}
	}
	close(stop)
	<-stopped
	if !welcomed {
		t.Fatal("no welcome state")
	}
	first, _ := device.ParseEventID(ids[0])
	if want := r.expected(first-1, []device.ID{r.devs[0]}); len(want) < len(ids) || !slices.Equal(ids, want[:len(ids)]) {
		t.Fatalf("got %d events from %s, not the log's in order", len(ids), ids[0])
	}
	direct := false
	r.g.conns.Range(func(k, _ any) bool {
		t, ok := k.(engine.Socket).Transport().(*wsTransport)
		direct = ok && t.direct.Load()
		return true
	})
	if !direct {
		t.Fatal("events to the upgraded connection still go through the engine")
	}
}
