package socketio

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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
