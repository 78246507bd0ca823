package socketio

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	engine "github.com/zishang520/socket.io/servers/engine/v3"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/domain/device"
)

// servedListener serves a gateway with one device and joins a listener to it, past the
// state it is welcomed with.
func servedListener(t *testing.T) (*Gateway, *wsListener, device.ID) {
	t.Helper()
	d := newDevice(t)
	g, base := serveGateway(t, &devices{t: t, get: func(context.Context, int) (*device.Device, error) { return d, nil }}, Options{})
	l := dial(t, base, string(d.ID()))
	l.joined()
	if name, _ := l.event(); name != "state" {
		t.Fatalf("welcomed with %s, want state", name)
	}
	return g, l, d.ID()
}

// The transport frames each payload itself: the three encodings of a frame's length
// (7 bits, 16 and 64) must all reach a standard client intact, in order.
func TestTransportFramesEveryLength(t *testing.T) {
	t.Parallel()
	g, l, id := servedListener(t)
	sizes := []int{10, 125, 126, 65535, 70_000}
	for i, n := range sizes {
		payload := fmt.Sprintf(`{"eventId":"%d","text":%q}`, i+1, strings.Repeat("x", n))
		r := device.Record{ID: device.EventID(i + 1), DeviceID: id, Name: "message", At: time.Now(), Payload: []byte(payload)}
		if err := g.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range sizes {
		name, data := l.event()
		if text, _ := data["text"].(string); name != "message" || data["eventId"] != fmt.Sprint(i+1) || len(text) != n {
			t.Fatalf("event %d: got %s eventId %v with %d bytes of text, want message %d with %d", i, name, data["eventId"], len(text), i+1, n)
		}
	}
}

// The transport answers websocket pings and closes itself, in place of gorilla, whose
// writes would interleave with its own.
func TestTransportAnswersPingAndClose(t *testing.T) {
	t.Parallel()
	_, l, _ := servedListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _, _ = l.conn.Read(ctx) }() // a pong is read by a reader
	if err := l.conn.Ping(ctx); err != nil {
		t.Fatalf("ping not answered: %v", err)
	}
	if err := l.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close not answered: %v", err)
	}
}

// A listener that reads nothing for a while, through small socket buffers, gets every
// event whole and in order once it reads: what its connection did not take at once went
// to a writer of its own, which wrote the rest of the frame it had begun, then the rest.
func TestTransportFinishesWritesForAReaderThatFellBehind(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	g, base := serveGateway(t, &devices{t: t, get: func(context.Context, int) (*device.Device, error) { return d, nil }}, Options{})
	l := dialWith(t, base, "/device/"+string(d.ID()), "", "", smallBuffers())
	l.joined()
	if name, _ := l.event(); name != "state" {
		t.Fatalf("welcomed with %s, want state", name)
	}
	const n, size = 600, 16 << 10
	for i := range n {
		payload := fmt.Sprintf(`{"eventId":"%d","text":%q}`, i+1, strings.Repeat("x", size))
		if err := g.Publish(context.Background(), device.Record{ID: device.EventID(i + 1), DeviceID: d.ID(), Name: "message", At: time.Now(), Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(5*time.Second, func() bool { return writerRuns(g) }) {
		t.Fatal("no writer of its own took over a connection whose socket was full")
	}
	for i := range n {
		name, data := l.event()
		if text, _ := data["text"].(string); name != "message" || data["eventId"] != fmt.Sprint(i+1) || len(text) != size {
			t.Fatalf("event %d: got %s eventId %v with %d bytes of text", i+1, name, data["eventId"], len(text))
		}
	}
	if !eventually(5*time.Second, func() bool { return !writerRuns(g) }) {
		t.Fatal("the writer goroutine still runs with nothing left to write")
	}
}

// writerRuns is whether a connection of g has a writer goroutine of its own.
func writerRuns(g *Gateway) bool {
	runs := false
	g.conns.Range(func(k, _ any) bool {
		if t, ok := k.(engine.Socket).Transport().(*wsTransport); ok {
			t.mu.Lock()
			runs = runs || t.state == writing
			t.mu.Unlock()
		}
		return true
	})
	return runs
}

func eventually(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// smallBuffers is a client whose connections have a 4 KB receive buffer: a server's
// writes to them fill up fast.
func smallBuffers() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}}
}
