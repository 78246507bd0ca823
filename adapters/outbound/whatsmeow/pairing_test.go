package whatsmeow

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/wasim"
)

func TestPairByQRCode(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		ctx := context.Background()

		before := time.Now()
		if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if err := c.Connect(ctx, device.Session{DeviceID: id}, r); domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("second Connect: %v, want conflict", err)
		}
		qr := expect[device.SessionQR](t, r, id)
		if qr.Code == "" || qr.ExpiresAt.Sub(before) < 59*time.Second || qr.ExpiresAt.Sub(time.Now()) > 60*time.Second {
			t.Fatalf("QR = %+v, want a code valid for 60 s", qr)
		}
		dev, err := srv.Scan(ctx, wasim.ScanRequest{QR: qr.Code, PhoneNumber: "+15550101001", PushName: "Alice", BusinessName: "Alice's Shop"})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		paired := expect[device.SessionPaired](t, r, id)
		want := device.Link{JID: dev.JID.String(), PhoneNumber: "15550101001", BusinessName: "Alice's Shop"}
		if paired.Link != want {
			t.Fatalf("SessionPaired = %+v, want %+v", paired.Link, want)
		}
		expect[device.SessionConnected](t, r, id)
		if n := storedDevices(t, db, want.JID); n != 1 {
			t.Fatalf("%d stored whatsmeow devices for %s, want 1", n, want.JID)
		}
		if st := srv.Stats(); st.LoggedIn != 1 || st.MaxConcurrentLoginsPerDevice != 1 {
			t.Fatalf("stats = %+v", st)
		}
		// Pairing is over: no pairing code any more.
		if _, err := c.PairPhone(ctx, id, "15550101001"); domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("PairPhone after pairing: %v, want conflict", err)
		}
	})
}

func TestPairByCode(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		ctx := context.Background()

		if _, err := c.PairPhone(ctx, id, "15550102001"); domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("PairPhone without a session: %v, want conflict", err)
		}
		if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
			t.Fatal(err)
		}
		expect[device.SessionQR](t, r, id)
		wantKind(t, func() error { _, err := c.PairPhone(ctx, id, "not a number"); return err }(), domain.KindInvalid, "PairPhone(bad number)")
		code, err := c.PairPhone(ctx, id, "+1 555 010 2001")
		if err != nil {
			t.Fatalf("PairPhone: %v", err)
		}
		if !regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(code) {
			t.Fatalf("pairing code %q, want XXXX-XXXX", code)
		}
		dev, err := srv.PairCode(ctx, wasim.PairCodeRequest{PhoneNumber: "15550102001", Code: code})
		if err != nil {
			t.Fatalf("PairCode: %v", err)
		}
		paired := expect[device.SessionPaired](t, r, id)
		if paired.Link.JID != dev.JID.String() || paired.Link.PhoneNumber != "15550102001" {
			t.Fatalf("SessionPaired = %+v, want JID %s", paired.Link, dev.JID)
		}
		expect[device.SessionConnected](t, r, id)
	})
}

// With short QR timings, the session shows every code in turn and then stops with
// qr_timeout; connecting again starts a new pairing.
func TestQRTimeout(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	cfg := testConfig(srv)
	cfg.QRFirstTimeout, cfg.QRNextTimeout = 300*time.Millisecond, 100*time.Millisecond
	c := newClient(t, db, cfg)
	r := newRecorder(db)
	id := newID()
	ctx := context.Background()

	start := time.Now()
	if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 6 {
		qr := expect[device.SessionQR](t, r, id)
		if seen[qr.Code] {
			t.Fatalf("QR code %d repeats an earlier one", i)
		}
		seen[qr.Code] = true
	}
	stop := expect[device.SessionDisconnected](t, r, id)
	if stop.Reason != device.ReasonQRTimeout || stop.Reconnecting {
		t.Fatalf("after the last QR code: %+v, want qr_timeout without reconnecting", stop)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("QR codes ran out after %v, want 300 ms + 5 × 100 ms", d)
	}
	eventually(t, "the pairing connection is closed", func() bool { return srv.Stats().Connections == 0 })
	if _, err := c.PairPhone(ctx, id, "15550103001"); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("PairPhone after the QR timeout: %v, want conflict", err)
	}
	if err := c.Connect(ctx, device.Session{DeviceID: id}, r); err != nil {
		t.Fatalf("Connect after the QR timeout: %v", err)
	}
	expect[device.SessionQR](t, r, id)
}
