package bootstrap

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/domain/device"
)

// lastWords stands for sessions that still report something while they stop (a message
// received just before the end): it stores a change, with its event, when closed, then
// closes the sessions it wraps.
type lastWords struct {
	Sessions
	publish func()
}

func (l lastWords) Close(ctx context.Context) error {
	l.publish()
	return l.Sessions.Close(ctx)
}

// TestShutdownStopsSessionsBeforeListeners: what sessions store while they stop still
// reaches connected listeners, because the feed delivers what the log holds before
// Socket.io closes.
func TestShutdownStopsSessionsBeforeListeners(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("k", MinAPIKeyLength)
	gw, err := BuildInMemory(Config{APIKey: key}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d, err := device.New("last words", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id := d.ID()
	if err := gw.Devices.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	gw.sessions = lastWords{Sessions: gw.sessions, publish: func() {
		_, err := gw.Devices.Update(context.Background(), id, func(d *device.Device) error { return d.Connect(time.Now()) })
		if err != nil {
			t.Error(err)
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(serveCtx, ln) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/ws/?EIO=4&transport=websocket&apiKey="+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, open, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("engine.io open packet: %q, %v", open, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if _, ack, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(ack), "40") {
		t.Fatalf("namespace connect: %q, %v", ack, err)
	}

	time.Sleep(100 * time.Millisecond) // the listener joins its rooms just after its ack
	stop()
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("the connection closed before the event of the stopping sessions arrived: %v", err)
		}
		if strings.HasPrefix(string(p), `42["state"`) && strings.Contains(string(p), id.String()) {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
