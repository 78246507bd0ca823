package wasim_test

import (
	"context"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

func TestKickReplacesStream(t *testing.T) {
	srv := startServer(t)
	const account = "15550007001"
	tc := pairQR(t, srv, account)

	if n, err := srv.Kick(account); err != nil || n != 1 {
		t.Fatalf("Kick = %d, %v", n, err)
	}
	waitFor[*events.StreamReplaced](t, tc.recorder)
	tc.closedOnBothEnds(t, srv, "the kicked connection is closed")
	if _, err := srv.Kick(account); wasim.ErrorCode(err) != "not_connected" {
		t.Fatalf("second Kick error = %v, want not_connected", err)
	}
	// The session is still valid: connecting again works.
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Connected](t, tc.recorder)
	if st := srv.Stats(); st.PairedDevices != 1 || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestUnlinkLogsOut(t *testing.T) {
	srv := startServer(t)
	const account = "15550008001"
	tc := pairQR(t, srv, account)

	if n, err := srv.Unlink("+" + account); err != nil || n != 1 {
		t.Fatalf("Unlink = %d, %v", n, err)
	}
	lo := waitFor[*events.LoggedOut](t, tc.recorder)
	if lo.OnConnect || lo.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("LoggedOut = %+v, want OnConnect=false reason 401", lo)
	}
	// whatsmeow dispatches LoggedOut before it deletes the device row, and
	// the client's Store fields are not safe to read from another goroutine,
	// so look at the database.
	eventually(t, "the client deleted its store", func() bool {
		devs, err := tc.container.GetAllDevices(context.Background())
		return err == nil && len(devs) == 0
	})
	if st := srv.Stats(); st.PairedDevices != 0 {
		t.Fatalf("paired devices after unlink = %d", st.PairedDevices)
	}
	if _, err := srv.Unlink(account); wasim.ErrorCode(err) != "no_devices" {
		t.Fatalf("second Unlink error = %v, want no_devices", err)
	}
}

func TestUnlinkWhileOfflineLogsOutOnConnect(t *testing.T) {
	srv := startServer(t)
	const account = "15550009001"
	tc := pairQR(t, srv, account)
	tc.cli.Disconnect()
	if _, err := srv.Unlink(account); err != nil {
		t.Fatal(err)
	}
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	lo := waitFor[*events.LoggedOut](t, tc.recorder)
	if !lo.OnConnect || lo.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("LoggedOut = %+v, want OnConnect=true reason 401", lo)
	}
}

func TestBanIsTemporaryBan(t *testing.T) {
	srv := startServer(t)
	const account = "15550010001"
	tc := pairQR(t, srv, account)

	if n, err := srv.Ban(account, wasim.BanOptions{Code: 102, Expire: 2 * time.Hour}); err != nil || n != 1 {
		t.Fatalf("Ban = %d, %v", n, err)
	}
	ban := waitFor[*events.TemporaryBan](t, tc.recorder)
	if ban.Code != events.TempBanBlockedByUsers || ban.Expire != 2*time.Hour {
		t.Fatalf("TemporaryBan = %+v", ban)
	}
	tc.closedOnBothEnds(t, srv, "the banned connection is closed")

	// Logging in again while banned fails the same way, with the time left.
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	ban = waitFor[*events.TemporaryBan](t, tc.recorder)
	if ban.Code != events.TempBanBlockedByUsers || ban.Expire <= time.Hour || ban.Expire > 2*time.Hour+time.Second {
		t.Fatalf("TemporaryBan on connect = %+v", ban)
	}
	tc.closedOnBothEnds(t, srv, "the refused connection is closed")

	if err := srv.Unban(account); err != nil {
		t.Fatal(err)
	}
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Connected](t, tc.recorder)
}

func TestDropReconnectsAutomatically(t *testing.T) {
	srv := startServer(t)
	const account = "15550011001"
	tc := pairQR(t, srv, account)

	if n, err := srv.Drop(account); err != nil || n != 1 {
		t.Fatalf("Drop = %d, %v", n, err)
	}
	waitFor[*events.Disconnected](t, tc.recorder)
	waitFor[*events.Connected](t, tc.recorder)
	// The reconnected session works end to end.
	if _, err := srv.SendText(context.Background(), wasim.TextMessage{From: "15550011999", To: account, Text: "after drop"}); err != nil {
		t.Fatal(err)
	}
	if got := waitFor[*events.Message](t, tc.recorder).Message.GetConversation(); got != "after drop" {
		t.Fatalf("got %q", got)
	}
	if st := srv.Stats(); st.LoggedIn != 1 || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestReconnectFromStoredSession(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550012001", "15550012999"
	first := pairQR(t, srv, account)
	ctx := context.Background()
	if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "before restart"}); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Message](t, first.recorder)
	// The process "restarts": the client and its database handle go away.
	first.cli.Disconnect()
	if err := first.container.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })

	second := newClient(t, srv, first.dbPath)
	if second.cli.Store.ID == nil || second.cli.Store.ID.User != account {
		t.Fatalf("stored session not found: %v", second.cli.Store.ID)
	}
	if err := second.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Connected](t, second.recorder)
	// The Signal session with the contact survived the restart.
	if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "after restart"}); err != nil {
		t.Fatal(err)
	}
	if got := waitFor[*events.Message](t, second.recorder).Message.GetConversation(); got != "after restart" {
		t.Fatalf("got %q", got)
	}
	if st := srv.Stats(); st.MaxConcurrentLoginsPerDevice != 1 || st.PairedDevices != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// Two clients sharing one stored session is the bug maxConcurrentLogins
// exists to catch: the second login replaces the first, and the stat shows 2.
func TestSecondOwnerOfADeviceIsDetected(t *testing.T) {
	srv := startServer(t)
	const account = "15550013001"
	first := pairQR(t, srv, account)
	if st := srv.Stats(); st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("max concurrent logins after one login = %d", st.MaxConcurrentLoginsPerDevice)
	}

	second := newClient(t, srv, first.dbPath)
	if err := second.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Connected](t, second.recorder)
	waitFor[*events.StreamReplaced](t, first.recorder)
	if st := srv.Stats(); st.MaxConcurrentLoginsPerDevice != 2 {
		t.Fatalf("max concurrent logins = %d, want 2", st.MaxConcurrentLoginsPerDevice)
	}
	eventually(t, "the replaced connection is closed", func() bool { return srv.Stats().LoggedIn == 1 })
}

func TestAccountActionsOnUnknownAccount(t *testing.T) {
	srv := startServer(t)
	for name, action := range map[string]func(string) (int, error){
		"unlink": srv.Unlink,
		"kick":   srv.Kick,
		"drop":   srv.Drop,
		"ban":    func(p string) (int, error) { return srv.Ban(p, wasim.BanOptions{}) },
	} {
		if _, err := action("15550014001"); wasim.ErrorCode(err) != "unknown_account" {
			t.Errorf("%s error = %v, want unknown_account", name, err)
		}
		if _, err := action("not-a-phone"); wasim.ErrorCode(err) != "invalid_phone" {
			t.Errorf("%s error = %v, want invalid_phone", name, err)
		}
	}
}
