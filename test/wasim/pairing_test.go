package wasim_test

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

func TestQRPairingConnects(t *testing.T) {
	srv := startServer(t)
	tc := newClient(t, srv, "")
	code := tc.connectForQR(t)

	dev, err := srv.Scan(context.Background(), wasim.ScanRequest{
		QR: code, PhoneNumber: "+15550001001", PushName: "Alice", BusinessName: "Alice's Shop",
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if dev.Phone != "15550001001" || dev.DeviceID != 1 || dev.JID.User != "15550001001" || dev.LID.Server != types.HiddenUserServer {
		t.Fatalf("unexpected linked device %+v", dev)
	}
	ps := waitFor[*events.PairSuccess](t, tc.recorder)
	if ps.ID != dev.JID || ps.LID != dev.LID || ps.BusinessName != "Alice's Shop" {
		t.Fatalf("PairSuccess = %+v, want ID %s LID %s business name", ps, dev.JID, dev.LID)
	}
	waitFor[*events.Connected](t, tc.recorder)
	if !tc.cli.IsLoggedIn() {
		t.Fatal("client not logged in after Connected")
	}
	if got := tc.cli.Store.GetJID(); got != dev.JID {
		t.Fatalf("store JID = %s, want %s", got, dev.JID)
	}
	st := srv.Stats()
	if st.PairedDevices != 1 || st.LoggedIn != 1 || st.Accounts != 1 || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v", st)
	}

	// The QR code was used up.
	if _, err := srv.Scan(context.Background(), wasim.ScanRequest{QR: code, PhoneNumber: "15550001001"}); wasim.ErrorCode(err) != "unknown_qr" {
		t.Fatalf("second scan error = %v, want unknown_qr", err)
	}
}

func TestPairingCode(t *testing.T) {
	srv := startServer(t)
	tc := newClient(t, srv, "")
	tc.connectForQR(t)
	ctx := context.Background()

	code, err := tc.cli.PairPhone(ctx, "+1 555 000 2002", true, "1", "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("unexpected pairing code %q", code)
	}

	// A wrong code fails on the phone and leaves the client waiting.
	wrong := "1111-1111"
	if code == wrong {
		wrong = "2222-2222"
	}
	if _, err := srv.PairCode(ctx, wasim.PairCodeRequest{PhoneNumber: "15550002002", Code: wrong}); wasim.ErrorCode(err) != "wrong_code" {
		t.Fatalf("wrong code error = %v, want wrong_code", err)
	}
	if _, err := srv.PairCode(ctx, wasim.PairCodeRequest{PhoneNumber: "15559999999", Code: code}); wasim.ErrorCode(err) != "no_pending_code" {
		t.Fatalf("unknown phone error = %v, want no_pending_code", err)
	}

	dev, err := srv.PairCode(ctx, wasim.PairCodeRequest{PhoneNumber: "15550002002", Code: code})
	if err != nil {
		t.Fatalf("PairCode: %v", err)
	}
	ps := waitFor[*events.PairSuccess](t, tc.recorder)
	if ps.ID != dev.JID {
		t.Fatalf("PairSuccess ID = %s, want %s", ps.ID, dev.JID)
	}
	waitFor[*events.Connected](t, tc.recorder)
	if got := tc.cli.Store.GetJID().User; got != "15550002002" {
		t.Fatalf("store JID user = %s", got)
	}
}
