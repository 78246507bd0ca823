package whatsmeow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/wasim"
)

// gate is a SessionHandler that records like recorder but, while closed, blocks on
// messages: a handler that does not keep up.
type gate struct {
	*recorder
	mu   sync.Mutex
	open chan struct{}
}

func (g *gate) HandleSession(ctx context.Context, id device.ID, ev device.SessionEvent) {
	if _, ok := ev.(device.SessionMessage); ok {
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		<-open
	}
	g.recorder.HandleSession(ctx, id, ev)
}

// A handler that does not keep up: messages beyond the queue are dropped after a short
// wait (whatsmeow is never blocked for long), state changes still get through, in order.
func TestSlowHandlerDropsMessagesNotState(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	cfg := testConfig(srv)
	cfg.QueueSize, cfg.QueueFullWait = 2, 50*time.Millisecond
	c := newClient(t, db, cfg)
	g := &gate{recorder: newRecorder(), open: make(chan struct{})}
	close(g.open)
	id := newID()
	const account = "15550601001"
	ctx := context.Background()
	pairQR(t, c, srv, g.recorder, id, account)
	if err := c.Disconnect(ctx, id); err != nil { // reconnect through the gate
		t.Fatal(err)
	}
	if err := c.Connect(ctx, device.Session{DeviceID: id, JID: storedJID(t, c, account)}, g); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionConnected](t, g.recorder, id)
	// Close the gate only now: a message that arrived before Connected would otherwise
	// hold the handler, and Connected behind it.
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
	if _, err := srv.SendText(ctx, wasim.TextMessage{From: "15550601999", To: account, Text: "first"}); err != nil {
		t.Fatal(err)
	}
	// The handler now blocks on the first message, which holds one of the two places in
	// the queue; the first flood message takes the other; the rest are dropped after
	// QueueFullWait each.
	const floods = 5
	for i := range floods {
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: "15550601999", To: account, Text: fmt.Sprintf("flood %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "messages are dropped", func() bool { return c.DroppedMessages() == floods-1 })
	// A state change still gets in, behind the waiting messages.
	if _, err := srv.Kick(account); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the session ends", func() bool { return c.session(id) == nil })
	close(g.open)
	for _, want := range []string{"first", "flood 0"} {
		if m := expect[device.SessionMessage](t, g.recorder, id); m.Message.Text != want {
			t.Fatalf("got %q, want %q", m.Message.Text, want)
		}
	}
	if d := expect[device.SessionDisconnected](t, g.recorder, id); d.Reason != device.ReasonStreamReplaced {
		t.Fatalf("got %+v", d)
	}
	expectQuiet(t, g.recorder, id, 100*time.Millisecond)
	if n := c.DroppedMessages(); n != floods-1 {
		t.Fatalf("%d messages dropped, want %d", n, floods-1)
	}
}

func storedJID(t *testing.T, c *Client, phone string) string {
	t.Helper()
	devs, err := c.container.GetAllDevices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID.User == phone {
			return d.ID.String()
		}
	}
	t.Fatalf("no stored device for %s", phone)
	return ""
}

// Gateways starting together upgrade whatsmeow's tables one after the other (advisory
// lock): without it, concurrent upgrades fail creating the same tables.
func TestNewConcurrentlyOnPostgres(t *testing.T) {
	url := dbtest.PostgresURL(t)
	const n = 4
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			db := openPostgres(t, url)
			c, err := New(context.Background(), db, database.Exclusively, Config{}, testLogger())
			if err == nil {
				err = c.Close(context.Background())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("New: %v", err)
		}
	}
}

func TestConnectConflicts(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	c := newClient(t, db, testConfig(srv))
	r := newRecorder()
	ctx := context.Background()
	id := newID()
	link := pairQR(t, c, srv, r, id, "15550602001")
	// Another device with the same link would be a second owner of the session.
	wantKind(t, c.Connect(ctx, device.Session{DeviceID: newID(), JID: link.JID}, r), domain.KindConflict, "Connect of a running link")
	wantKind(t, c.Connect(ctx, device.Session{DeviceID: id, JID: link.JID}, r), domain.KindConflict, "Connect of a running device")
}
