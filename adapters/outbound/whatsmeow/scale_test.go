package whatsmeow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/wasim"
)

// Test100DevicesRestore links 100 devices, restarts the client, and connects all of
// them again at once, as the gateway's restore does: every Connect returns at once, every
// device logs in with its stored keys, and no device is ever logged in twice. It runs on
// PostgreSQL: SQLite takes writers one at a time, and each pairing stores 812 prekeys one
// insert at a time (whatsmeow), so pairing 100 devices there takes twice as long; the
// restart itself is tested on both databases in TestRestartLogsInWithStoredKeys.
func Test100DevicesRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("100 devices: skipped in -short mode")
	}
	const n = 100
	srv := startServer(t)
	db := dbtest.Postgres(t)
	ctx := context.Background()
	first := newClient(t, db, testConfig(srv))
	r := newRecorder(db)
	ids := make([]device.ID, n)
	links := make([]device.Link, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = newID()
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			links[i] = pairQR(t, first, srv, r, ids[i], fmt.Sprintf("1555060%04d", i))
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server sees every device disconnect", func() bool { return srv.Stats().Connections == 0 })

	second := newClient(t, db, testConfig(srv))
	start := time.Now()
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- second.Connect(ctx, device.Session{DeviceID: ids[i], JID: links[i].JID}, r) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("100 Connects took %v: Connect must not wait for the network", d)
	}
	for i := range n {
		wg.Go(func() { expect[device.SessionConnected](t, r, ids[i]) })
	}
	wg.Wait()
	t.Logf("100 devices paired, restarted and logged in again; the logins took %v", time.Since(start))
	if st := srv.Stats(); st.LoggedIn != n || st.PairedDevices != n || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v, want %d logged in, at most one login per device", st, n)
	}
	for i := range 3 {
		text := fmt.Sprintf("hello device %d", i)
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: "15550609999", To: links[i].PhoneNumber, Text: text}); err != nil {
			t.Fatal(err)
		}
		if m := expect[device.SessionMessage](t, r, ids[i]); m.Message.Text != text {
			t.Fatalf("device %d got %q", i, m.Message.Text)
		}
	}
}
