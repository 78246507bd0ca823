package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/message"
)

const testKey = "socketio-test-key"

// devices is a Devices whose answers each test scripts: get answers the n-th Get
// (from 1). Every read must carry a deadline, or the test fails.
type devices struct {
	t     *testing.T
	mu    sync.Mutex
	calls int
	get   func(ctx context.Context, n int) (*device.Device, error)
}

func (d *devices) Get(ctx context.Context, _ device.ID) (*device.Device, error) {
	if _, ok := ctx.Deadline(); !ok {
		d.t.Error("the gateway read a device without a deadline")
	}
	d.mu.Lock()
	d.calls++
	n := d.calls
	d.mu.Unlock()
	return d.get(ctx, n)
}

// serveGateway serves a gateway over devs on a loopback port and returns it with its
// base URL.
func serveGateway(t *testing.T, devs Devices, o Options) (*Gateway, string) {
	t.Helper()
	keys := memory.NewKeys()
	auth := apikey.New(application.NewAuthenticate(keys, testKey, time.Now), slog.New(slog.DiscardHandler), apikey.Options{})
	return serveGatewayWith(t, auth, devs, o)
}

// serveGatewayWith is serveGateway with the given key checks.
func serveGatewayWith(t *testing.T, auth Authenticator, devs Devices, o Options) (*Gateway, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := New(auth, application.NewValidKeys(memory.NewKeys(), time.Now), devs, memory.NewLog(), log, o)
	mux := http.NewServeMux()
	mux.Handle(Path+"/", g.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		// Bounded, so that a gateway stuck on a lock fails the test instead of hanging it.
		done := make(chan struct{})
		go func() { g.Close(); srv.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not close within 10s")
		}
	})
	return g, srv.URL
}

func newDevice(t *testing.T) *device.Device {
	t.Helper()
	d, err := device.New("Test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// connecting is d after Connect, as stored once a connection starts.
func connecting(t *testing.T, d *device.Device) *device.Device {
	t.Helper()
	c := device.Rehydrate(d.Snapshot())
	if err := c.Connect(time.Now()); err != nil {
		t.Fatal(err)
	}
	return c
}

// wsListener is a listener speaking engine.io and socket.io over a bare websocket, so
// that a test sees exactly which packets arrive and can send what no client would.
type wsListener struct {
	t    *testing.T
	conn *websocket.Conn
	nsp  string
}

// dial opens a websocket and sends the namespace connect packet, without waiting for
// the answer (see joined).
func dial(t *testing.T, base, id string) *wsListener {
	t.Helper()
	return dialWith(t, base, "/device/"+id, "", "", nil)
}

// dialWith is dial to namespace nsp ("/" or "/device/<id>"), with query parameters
// (&name=value...), the connect packet's auth object (JSON, "" for none), and the
// HTTP client that dials (nil for the default).
func dialWith(t *testing.T, base, nsp, query, auth string, hc *http.Client) *wsListener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+Path+"/?EIO=4&transport=websocket&apiKey="+testKey+query,
		&websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	l := &wsListener{t: t, conn: conn, nsp: nsp}
	if p, err := l.read(5 * time.Second); err != nil || !strings.HasPrefix(p, "0") {
		t.Fatalf("engine.io open packet: %q %v", p, err)
	}
	l.write("40" + l.prefix() + auth)
	return l
}

// prefix is what the listener's packets start with after their type: the namespace
// and a comma, nothing for the root namespace.
func (l *wsListener) prefix() string {
	if l.nsp == "/" {
		return ""
	}
	return l.nsp + ","
}

// joined waits for the namespace's connect packet.
func (l *wsListener) joined() {
	l.t.Helper()
	l.connected()
}

// connected waits for the namespace's connect packet and returns its data (sid, and
// pid when connection state recovery is on).
func (l *wsListener) connected() map[string]any {
	l.t.Helper()
	p, err := l.read(5 * time.Second)
	var data map[string]any
	if err != nil || !strings.HasPrefix(p, "40"+l.prefix()) || json.Unmarshal([]byte(strings.TrimPrefix(p, "40"+l.prefix())), &data) != nil {
		l.t.Fatalf("namespace connect answered %q %v", p, err)
	}
	return data
}

func (l *wsListener) write(p string) {
	l.t.Helper()
	if err := l.conn.Write(context.Background(), websocket.MessageText, []byte(p)); err != nil {
		l.t.Fatal(err)
	}
}

// read returns the next packet, answering pings on the way.
func (l *wsListener) read(timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, b, err := l.conn.Read(ctx)
		if err != nil {
			return "", err
		}
		if string(b) != "2" {
			return string(b), nil
		}
		_ = l.conn.Write(ctx, websocket.MessageText, []byte("3"))
	}
}

// event returns the next event of the listener's namespace, which must have one
// argument, its payload.
func (l *wsListener) event() (string, map[string]any) {
	l.t.Helper()
	name, data, offset, ok := l.eventWithOffset()
	if ok {
		l.t.Fatalf("%s event with an offset (%q) for a listener that did not ask for one", name, offset)
	}
	return name, data
}

// eventWithOffset returns the next event of the listener's namespace, and the offset
// that follows its payload if there is one.
func (l *wsListener) eventWithOffset() (name string, data map[string]any, offset string, ok bool) {
	l.t.Helper()
	p, err := l.read(10 * time.Second)
	if err != nil {
		l.t.Fatalf("no event: %v", err)
	}
	var ev []json.RawMessage
	if !strings.HasPrefix(p, "42"+l.prefix()) || json.Unmarshal([]byte(strings.TrimPrefix(p, "42"+l.prefix())), &ev) != nil ||
		len(ev) < 2 || len(ev) > 3 || json.Unmarshal(ev[0], &name) != nil || json.Unmarshal(ev[1], &data) != nil ||
		(len(ev) == 3 && json.Unmarshal(ev[2], &offset) != nil) {
		l.t.Fatalf("not an event of %s: %q", l.nsp, p)
	}
	return name, data, offset, len(ev) == 3
}

// expectState fails unless the next event is state with the status.
func (l *wsListener) expectState(status string) {
	l.t.Helper()
	if name, data := l.event(); name != "state" || data["status"] != status {
		l.t.Fatalf("got %s %v, want state %s", name, data, status)
	}
}

// closed fails unless the server closes the connection within timeout.
func (l *wsListener) closed(timeout time.Duration) {
	l.t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if _, err := l.read(time.Until(deadline)); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			return
		}
	}
	l.t.Fatalf("connection to %s still open after %v", l.nsp, timeout)
}

// wait fails unless ch is closed within a few seconds.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
	}
}

// lastID numbers the events that tests publish without a log.
var lastID atomic.Int64

// publishWithin publishes e and fails unless Publish returns within timeout: a stuck
// Publish blocks every event of the devices that share its lock.
func publishWithin(t *testing.T, g *Gateway, e device.Event, timeout time.Duration) {
	t.Helper()
	r, err := device.NewRecord(e, device.EventID(lastID.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Publish(context.Background(), r) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatalf("Publish(%s) still blocked after %v", e.Name(), timeout)
	}
}

// TestWelcomeReadFailureDoesNotBlockPublish is the regression test for a deadlock: the
// welcome read the device under its lock and, when that read failed, disconnected the
// listener, whose disconnect handler waited for the same lock forever, and so did every
// later Publish for the devices sharing it.
func TestWelcomeReadFailureDoesNotBlockPublish(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	entered := make(chan struct{})
	g, base := serveGateway(t, &devices{t: t, get: func(_ context.Context, n int) (*device.Device, error) {
		if n == 1 { // the middleware's read
			return d, nil
		}
		close(entered)
		return nil, errors.New("database is restarting")
	}}, Options{})
	l := dial(t, base, d.ID().String())
	wait(t, entered, "the welcome's read")
	publishWithin(t, g, device.StateChanged{Header: device.Header{DeviceID: d.ID(), At: time.Now()}, Status: device.StatusConnecting}, 5*time.Second)
	l.closed(5 * time.Second)
}

// TestWelcomeNeverFollowsANewerEvent holds the welcome's read of a device while the
// device changes: Publish must not wait for the read, and the listener, which gets the
// change as it is published, must not then be sent the older state that the read saw.
func TestWelcomeNeverFollowsANewerEvent(t *testing.T) {
	t.Parallel()
	created := newDevice(t)
	var mu sync.Mutex
	stored := created
	entered, release := make(chan struct{}), make(chan struct{})
	g, base := serveGateway(t, &devices{t: t, get: func(ctx context.Context, n int) (*device.Device, error) {
		mu.Lock()
		d := stored
		mu.Unlock()
		if n == 2 { // the welcome's first read: it sees the old state, and is slow
			close(entered)
			<-release
		}
		return d, nil
	}}, Options{})
	l := dial(t, base, created.ID().String())
	l.joined()
	wait(t, entered, "the welcome's read")

	// The application stores a change, then publishes it.
	mu.Lock()
	stored = connecting(t, created)
	mu.Unlock()
	publishWithin(t, g, device.StateChanged{Header: device.Header{DeviceID: created.ID(), At: time.Now()}, Status: device.StatusConnecting}, 5*time.Second)
	l.expectState("connecting")
	close(release)
	l.expectState("connecting") // the welcome, read again: never "created"
}

// TestListenersInADroppedNamespaceStillHearTheirDevice: socket.io drops a device's
// namespace when its last listener leaves, even while a new listener is still in the
// namespace's middleware; that listener then joins the dropped namespace, and the next
// one a new namespace. Both must get the device's events.
func TestListenersInADroppedNamespaceStillHearTheirDevice(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	entered, release := make(chan struct{}), make(chan struct{})
	g, base := serveGateway(t, &devices{t: t, get: func(ctx context.Context, n int) (*device.Device, error) {
		if n == 3 { // the second listener's middleware
			close(entered)
			<-release
		}
		return d, nil
	}}, Options{})
	id := d.ID().String()
	listening := func() bool { _, ok := g.nsps.Load(d.ID()); return ok }

	first := dial(t, base, id)
	first.joined()
	first.expectState("created")
	second := dial(t, base, id)
	wait(t, entered, "the second listener's middleware")
	first.conn.Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(5 * time.Second); listening(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first listener's namespace is still registered after it left")
		}
	}
	close(release)
	second.joined()
	second.expectState("created")
	third := dial(t, base, id)
	third.joined()
	third.expectState("created")

	publishWithin(t, g, device.StateChanged{Header: device.Header{DeviceID: d.ID(), At: time.Now()}, Status: device.StatusConnecting}, 5*time.Second)
	second.expectState("connecting")
	third.expectState("connecting")
}

// TestOversizedPacketClosesOnlyItsConnection sends a message larger than MaxPacketBytes
// on one connection: the server closes it, and another listener of the same device
// keeps getting events.
func TestOversizedPacketClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	g, base := serveGateway(t, &devices{t: t, get: func(context.Context, int) (*device.Device, error) { return d, nil }}, Options{})
	big, other := dial(t, base, d.ID().String()), dial(t, base, d.ID().String())
	for _, l := range []*wsListener{big, other} {
		l.joined()
		l.expectState("created")
	}
	// The server may close the connection while the frame is still being written: a
	// write error is that same outcome, seen from the client.
	_ = big.conn.Write(context.Background(), websocket.MessageText, []byte("42"+big.nsp+`,["x","`+strings.Repeat("x", MaxPacketBytes)+`"]`))
	big.closed(5 * time.Second)
	publishWithin(t, g, device.StateChanged{Header: device.Header{DeviceID: d.ID(), At: time.Now()}, Status: device.StatusConnecting}, 5*time.Second)
	other.expectState("connecting")
}

type failingAuth struct{}

func (failingAuth) Check(context.Context, string, string, string) (key.Access, error) {
	return key.Access{}, errors.New("select key: dial tcp 10.0.0.5:5432: connection refused")
}

// TestKeyCheckFailureHidesItsCause: when keys cannot be checked, the listener is told
// "Server error", never the cause, which may name internal hosts.
func TestKeyCheckFailureHidesItsCause(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	_, base := serveGatewayWith(t, failingAuth{}, &devices{t: t, get: func(context.Context, int) (*device.Device, error) { return d, nil }}, Options{})
	l := dial(t, base, d.ID().String())
	p, err := l.read(5 * time.Second)
	if err != nil || p != "44"+l.nsp+`,{"data":null,"message":"Server error"}` {
		t.Fatalf("answer %q %v", p, err)
	}
}

// heldObserver holds the gateway's "connection" handler of the first listener, in its
// count, until release is closed.
type heldObserver struct {
	noObserver
	once             sync.Once
	entered, release chan struct{}
}

func (o *heldObserver) ListenerConnected(bool) {
	o.once.Do(func() { close(o.entered); <-o.release })
}

// TestConnectedListenerMissesNothing: a client acts as soon as it is told it is
// connected, so what is published from then on must reach it, even before the
// gateway's "connection" handler has run (held here), which socket.io runs after it
// sends the CONNECT packet.
func TestConnectedListenerMissesNothing(t *testing.T) {
	t.Parallel()
	for _, root := range []bool{false, true} {
		t.Run(map[bool]string{false: "device", true: "root"}[root], func(t *testing.T) {
			t.Parallel()
			d := newDevice(t)
			obs := &heldObserver{entered: make(chan struct{}), release: make(chan struct{})}
			g, base := serveGateway(t, &devices{t: t, get: func(context.Context, int) (*device.Device, error) { return d, nil }},
				Options{Observer: obs})
			nsp := "/device/" + d.ID().String()
			if root {
				nsp = "/"
			}
			l := dialWith(t, base, nsp, "", "", nil)
			l.joined()
			wait(t, obs.entered, "the connection handler")
			m := message.Message{ID: "while-connecting", Type: message.TypeText, Text: "hi"}
			publishWithin(t, g, device.NewMessageReceived(d.ID(), m, time.Now()), 5*time.Second)
			close(obs.release)
			name, data := l.event()
			if got, _ := data["message"].(map[string]any); name != "message" || got["id"] != m.ID {
				t.Fatalf("first event %s %v, want the message published once connected", name, data)
			}
			if !root {
				l.expectState("created") // the welcome, after it
			}
		})
	}
}
