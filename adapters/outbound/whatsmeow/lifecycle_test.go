package whatsmeow

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/wasim"
)

// A new Client on the same database (the gateway restarted) logs the device in with
// its stored keys: no QR code, and the Signal sessions with contacts survive.
func TestRestartLogsInWithStoredKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		const account, contact = "15550301001", "15550301999"
		ctx := context.Background()
		first := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		link := pairQR(t, first, srv, r, id, account)
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "before restart"}); err != nil {
			t.Fatal(err)
		}
		expect[device.SessionMessage](t, r, id)

		if err := first.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })
		if evs := r.pending(id); len(evs) > 0 {
			t.Fatalf("Close reported %s", r.describe(id))
		}
		if err := first.Connect(ctx, device.Session{DeviceID: id, JID: link.JID}, r); domain.KindOf(err) != domain.KindUnavailable {
			t.Fatalf("Connect after Close: %v, want unavailable", err)
		}

		second := newClient(t, db, testConfig(srv))
		if err := second.Connect(ctx, device.Session{DeviceID: id, JID: link.JID}, r); err != nil {
			t.Fatal(err)
		}
		expect[device.SessionConnected](t, r, id) // first news: no QR code
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "after restart"}); err != nil {
			t.Fatal(err)
		}
		if m := expect[device.SessionMessage](t, r, id); m.Message.Text != "after restart" {
			t.Fatalf("got %q", m.Message.Text)
		}
		if st := srv.Stats(); st.MaxConcurrentLoginsPerDevice != 1 || st.LoggedIn != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// Connecting with a link whose keys are gone reports the device logged out (it must be
// linked again) instead of starting a pairing.
func TestConnectWithoutStoredKeysLogsOut(t *testing.T) {
	srv, _, c, r, id := setUp(t)
	if err := c.Connect(context.Background(), device.Session{DeviceID: id, JID: "15550302001:4@s.whatsapp.net"}, r); err != nil {
		t.Fatal(err)
	}
	if lo := expect[device.SessionLoggedOut](t, r, id); lo.Reason != device.ReasonLoggedOut {
		t.Fatalf("got %+v", lo)
	}
	eventually(t, "the session is gone", func() bool { return c.session(id) == nil })
	if st := srv.Stats(); st.Connections != 0 {
		t.Fatalf("a connection was opened: %+v", st)
	}
}

func TestDisconnectReportsNothing(t *testing.T) {
	srv, _, c, r, id := setUp(t)
	ctx := context.Background()
	link := pairQR(t, c, srv, r, id, "15550303001")

	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().Connections == 0 })
	expectQuiet(t, r, id, 300*time.Millisecond)
	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatalf("second Disconnect: %v", err)
	}
	if _, err := c.Send(ctx, id, textTo("15550303999", "x")); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("Send after Disconnect: %v, want conflict", err)
	}
	// The link was kept.
	if err := c.Connect(ctx, device.Session{DeviceID: id, JID: link.JID}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionConnected](t, r, id)
}

// A pairing session disconnected on request reports nothing either.
func TestDisconnectWhilePairing(t *testing.T) {
	srv, _, c, r, id := setUp(t)
	ctx := context.Background()
	if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionQR](t, r, id)
	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().Connections == 0 })
	expectQuiet(t, r, id, 300*time.Millisecond)
}

func TestUnlinkFromPhoneLogsOut(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		const account = "15550304001"
		link := pairQR(t, c, srv, r, id, account)

		if _, err := srv.Unlink(account); err != nil {
			t.Fatal(err)
		}
		if lo := expect[device.SessionLoggedOut](t, r, id); lo.Reason != device.ReasonLoggedOut {
			t.Fatalf("got %+v", lo)
		}
		// The keys are deleted before the news goes out.
		if n := storedDevices(t, db, link.JID); n != 0 {
			t.Fatalf("%d whatsmeow devices left for %s", n, link.JID)
		}
		if c.session(id) != nil {
			t.Fatal("the session still runs")
		}
		// The device can be linked again.
		if err := c.Connect(context.Background(), device.Session{DeviceID: id}, r); err != nil {
			t.Fatal(err)
		}
		expect[device.SessionQR](t, r, id)
	})
}

// Unlinked while the gateway was down: the login fails and the device is logged out.
func TestUnlinkedWhileOffline(t *testing.T) {
	srv, db, c, r, id := setUp(t)
	const account = "15550305001"
	link := pairQR(t, c, srv, r, id, account)
	if err := c.Disconnect(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Unlink(account); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background(), device.Session{DeviceID: id, JID: link.JID}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionLoggedOut](t, r, id)
	if n := storedDevices(t, db, link.JID); n != 0 {
		t.Fatalf("%d whatsmeow devices left for %s", n, link.JID)
	}
}

func TestKickIsStreamReplacedWithoutReconnect(t *testing.T) {
	srv, _, c, r, id := setUp(t)
	obs := new(countingObserver)
	c.cfg.Observer = obs // before any session runs
	const account = "15550306001"
	link := pairQR(t, c, srv, r, id, account)

	if _, err := srv.Kick(account); err != nil {
		t.Fatal(err)
	}
	got := expect[device.SessionDisconnected](t, r, id)
	if got.Reason != device.ReasonStreamReplaced || got.Reconnecting {
		t.Fatalf("got %+v, want stream_replaced without reconnecting", got)
	}
	if c.session(id) != nil {
		t.Fatal("the session still runs")
	}
	if n := obs.disconnects(device.ReasonStreamReplaced); n != 1 {
		t.Fatalf("the observer was told of %d stream_replaced disconnections, want 1", n)
	}
	if obs.connects.Load() != 1 {
		t.Fatalf("the observer was told of %d connections, want 1", obs.connects.Load())
	}
	eventually(t, "the kicked connection is closed", func() bool { return srv.Stats().Connections == 0 })
	// No reconnection: with the test's reconnect delays (20-200 ms) one would show by now.
	expectQuiet(t, r, id, 500*time.Millisecond)
	if st := srv.Stats(); st.Connections != 0 || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// The link is kept: connecting again works.
	if err := c.Connect(context.Background(), device.Session{DeviceID: id, JID: link.JID}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionConnected](t, r, id)
}

func TestBanIsTemporaryBan(t *testing.T) {
	srv, _, c, r, id := setUp(t)
	const account = "15550307001"
	link := pairQR(t, c, srv, r, id, account)

	if _, err := srv.Ban(account, wasim.BanOptions{Code: 101, Expire: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	checkBan := func(what string) {
		t.Helper()
		f := expect[device.SessionFailed](t, r, id)
		if left := time.Until(f.Until); f.Reason != device.ReasonTemporaryBan || left < 2*time.Hour-time.Minute || left > 2*time.Hour {
			t.Fatalf("%s: got %+v, want temporary_ban until about 2 h from now", what, f)
		}
		if c.session(id) != nil {
			t.Fatalf("%s: the session still runs", what)
		}
	}
	checkBan("ban while connected")
	eventually(t, "the banned connection is closed", func() bool { return srv.Stats().Connections == 0 })

	if err := c.Connect(context.Background(), device.Session{DeviceID: id, JID: link.JID}, r); err != nil {
		t.Fatal(err)
	}
	checkBan("login while banned")
}

func TestDropReconnects(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		const account = "15550308001"
		pairQR(t, c, srv, r, id, account)

		for round := range 2 {
			if _, err := srv.Drop(account); err != nil {
				t.Fatalf("drop %d: %v", round, err)
			}
			got := expect[device.SessionDisconnected](t, r, id)
			if got.Reason != device.ReasonConnectionLost || !got.Reconnecting {
				t.Fatalf("drop %d: got %+v, want connection_lost, reconnecting", round, got)
			}
			expect[device.SessionConnected](t, r, id)
		}
		if _, err := srv.SendText(context.Background(), wasim.TextMessage{From: "15550308999", To: account, Text: "after drops"}); err != nil {
			t.Fatal(err)
		}
		if m := expect[device.SessionMessage](t, r, id); m.Message.Text != "after drops" {
			t.Fatalf("got %q", m.Message.Text)
		}
		if st := srv.Stats(); st.MaxConcurrentLoginsPerDevice != 1 || st.LoggedIn != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// Logout unlinks a connected device on the phone's side and deletes its keys; Logout of
// a device without a session deletes its keys, and so does Remove (the device's messages
// are the application's, which deletes them with the device). None of them reports
// anything.
func TestLogoutAndRemove(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		ctx := context.Background()

		connected := newID()
		link := pairQR(t, c, srv, r, connected, "15550309001")
		if err := c.Logout(ctx, device.Session{DeviceID: connected, JID: link.JID}); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if n := storedDevices(t, db, link.JID); n != 0 {
			t.Fatalf("Logout left %d whatsmeow devices", n)
		}
		if st := srv.Stats(); st.PairedDevices != 0 {
			t.Fatalf("Logout did not unlink on the server: %+v", st)
		}

		offline := newID()
		link = pairQR(t, c, srv, r, offline, "15550309002")
		if err := c.Disconnect(ctx, offline); err != nil {
			t.Fatal(err)
		}
		if err := c.Logout(ctx, device.Session{DeviceID: offline, JID: link.JID}); err != nil {
			t.Fatalf("Logout without a session: %v", err)
		}
		if n := storedDevices(t, db, link.JID); n != 0 {
			t.Fatalf("Logout left %d whatsmeow devices", n)
		}

		removed := newID()
		link = pairQR(t, c, srv, r, removed, "15550309003")
		if err := c.Remove(ctx, device.Session{DeviceID: removed, JID: link.JID}); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if n := storedDevices(t, db, link.JID); n != 0 {
			t.Fatalf("Remove left %d whatsmeow devices", n)
		}
		eventually(t, "every connection is closed", func() bool { return srv.Stats().Connections == 0 })
		for _, id := range []device.ID{connected, offline, removed} {
			expectQuiet(t, r, id, 0)
		}
		if n := storedDevices(t, db, ""); n != 0 {
			t.Fatalf("%d whatsmeow devices left in all", n)
		}
	})
}

func keptMessages(t testing.TB, db *bun.DB, id device.ID) int {
	t.Helper()
	n, err := db.NewSelect().Table("messages").Where("device_id = ?", id.String()).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// A server that cannot be reached: the session keeps retrying without a word, and
// Disconnect stops it at once.
func TestUnreachableServerRetriesQuietly(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	cfg := testConfig(srv)
	cfg.ServerURL = "ws://127.0.0.1:1/ws/chat" // nothing listens on port 1
	c := newClient(t, db, cfg)
	r := newRecorder(db)
	id := newID()
	ctx := context.Background()
	if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, r, id, 500*time.Millisecond) // several attempts at 20-200 ms
	if c.session(id) == nil {
		t.Fatal("the session gave up")
	}
	start := time.Now()
	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Disconnect took %v", d)
	}
	expectQuiet(t, r, id, 100*time.Millisecond)
}

// A server whose certificate does not chain to the trusted root key is not WhatsApp:
// the session fails at once instead of retrying.
func TestUntrustedServerFails(t *testing.T) {
	key, err := wasim.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := wasim.New(wasim.Options{RootKey: key})
	if err != nil {
		t.Fatal(err)
	}
	l, err := impostor.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = impostor.Serve(l)
	}()
	t.Cleanup(func() {
		_ = impostor.Close()
		<-done
	})
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	cfg := testConfig(srv) // trusts the test root key...
	cfg.ServerURL = impostor.URL()
	c := newClient(t, db, cfg)
	r := newRecorder(db)
	id := newID()
	if err := c.Connect(context.Background(), device.Session{DeviceID: id}, r); err != nil {
		t.Fatal(err)
	}
	if f := expect[device.SessionFailed](t, r, id); f.Reason != device.ReasonConnectFailure {
		t.Fatalf("got %+v", f)
	}
	eventually(t, "the session is gone", func() bool { return c.session(id) == nil })
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
			c, err := New(context.Background(), db, database.Exclusively, database.NewStore(db).Messages, Config{}, testLogger())
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
	r := newRecorder(db)
	ctx := context.Background()
	id := newID()
	link := pairQR(t, c, srv, r, id, "15550602001")
	// Another device with the same link would be a second owner of the session.
	wantKind(t, c.Connect(ctx, device.Session{DeviceID: newID(), JID: link.JID}, r), domain.KindConflict, "Connect of a running link")
	wantKind(t, c.Connect(ctx, device.Session{DeviceID: id, JID: link.JID}, r), domain.KindConflict, "Connect of a running device")
}
