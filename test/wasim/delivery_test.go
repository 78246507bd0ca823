package wasim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

// pendingIDs returns the ids of the messages device 1 of account has not
// acknowledged, and checks the account's total agrees.
func pendingIDs(t *testing.T, srv *wasim.Server, account string) []string {
	t.Helper()
	a, err := srv.Account(account)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Devices) != 1 || a.Devices[0].DeviceID != 1 {
		t.Fatalf("account devices = %+v, want device 1 only", a.Devices)
	}
	d := a.Devices[0]
	if a.Pending != d.Pending || d.Pending != len(d.PendingIDs) {
		t.Fatalf("account pending %d, device pending %d, ids %v", a.Pending, d.Pending, d.PendingIDs)
	}
	return d.PendingIDs
}

// waitNothingPending waits until account has acknowledged everything.
func waitNothingPending(t *testing.T, srv *wasim.Server, account string) {
	t.Helper()
	eventually(t, account+" acknowledged every message", func() bool {
		return len(pendingIDs(t, srv, account)) == 0 && srv.Stats().PendingMessages == 0
	})
}

// sendTexts has contact send texts to account and returns their ids.
func sendTexts(t *testing.T, srv *wasim.Server, contact, account string, texts ...string) []string {
	t.Helper()
	ids := make([]string, len(texts))
	for i, text := range texts {
		res, err := srv.SendText(context.Background(), wasim.TextMessage{From: contact, To: account, Text: text})
		if err != nil {
			t.Fatalf("SendText %q: %v", text, err)
		}
		ids[i] = res.ID
	}
	return ids
}

// nextMessages waits for n events.Message and returns their ids and texts.
func nextMessages(t *testing.T, r *recorder, n int) (ids, texts []string) {
	t.Helper()
	for range n {
		m := waitFor[*events.Message](t, r)
		ids = append(ids, m.Info.ID)
		texts = append(texts, m.Message.GetConversation())
	}
	return ids, texts
}

// pairedAccount runs t in parallel with a simulator of its own and a
// whatsmeow client linked to account.
func pairedAccount(t *testing.T, account string) (*wasim.Server, *testClient) {
	t.Helper()
	t.Parallel()
	srv := startServer(t)
	return srv, pairQR(t, srv, account)
}

// disconnect closes tc's connection and waits until the server noticed:
// from then on the device is offline.
func disconnect(t *testing.T, srv *wasim.Server, tc *testClient) {
	t.Helper()
	tc.cli.Disconnect()
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })
}

// whatsmeow confirms each message it handled with a delivery receipt; the
// simulator then forgets it.
func TestDeliveredMessagesAreReleasedByTheClientsReceipt(t *testing.T) {
	const account, contact = "15550031001", "15550031999"
	srv, tc := pairedAccount(t, account)

	texts := []string{"one", "two", "three"}
	ids := sendTexts(t, srv, contact, account, texts...)
	gotIDs, gotTexts := nextMessages(t, tc.recorder, len(texts))
	if !slices.Equal(gotIDs, ids) || !slices.Equal(gotTexts, texts) {
		t.Fatalf("client got %v %q, want %v %q", gotIDs, gotTexts, ids, texts)
	}
	waitNothingPending(t, srv, account)
}

// A client whose handler fails (whatsmeow with SynchronousAck sends neither
// receipt nor ack then) gets the same messages again, same ids, same order,
// after it reconnects; meanwhile the simulator shows them pending.
// EnableDecryptedEventBuffer is what lets whatsmeow hand the redelivered
// ciphertext to the handler again instead of dropping it as a replay.
func TestUnacknowledgedMessagesAreDeliveredAgainAfterReconnect(t *testing.T) {
	const account, contact = "15550032001", "15550032999"
	srv, tc := pairedAccount(t, account)
	tc.cli.SynchronousAck = true
	tc.cli.EnableDecryptedEventBuffer = true
	var failing atomic.Bool
	failing.Store(true)
	tc.cli.AddEventHandlerWithSuccessStatus(func(evt any) bool {
		_, isMsg := evt.(*events.Message)
		return !isMsg || !failing.Load()
	})

	texts := []string{"first", "second", "third"}
	ids := sendTexts(t, srv, contact, account, texts...)
	// The recorder runs before the failing handler, so it sees the first
	// delivery too.
	if got, _ := nextMessages(t, tc.recorder, len(texts)); !slices.Equal(got, ids) {
		t.Fatalf("first delivery ids %v, want %v", got, ids)
	}
	disconnect(t, srv, tc)
	if got := pendingIDs(t, srv, account); !slices.Equal(got, ids) {
		t.Fatalf("pending while offline = %v, want %v", got, ids)
	}

	failing.Store(false)
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	gotIDs, gotTexts := nextMessages(t, tc.recorder, len(texts))
	if !slices.Equal(gotIDs, ids) || !slices.Equal(gotTexts, texts) {
		t.Fatalf("redelivered %v %q, want %v %q", gotIDs, gotTexts, ids, texts)
	}
	if off := waitFor[*events.OfflineSyncCompleted](t, tc.recorder); off.Count != len(texts) {
		t.Fatalf("offline count = %d, want %d", off.Count, len(texts))
	}
	waitNothingPending(t, srv, account)
}

// whatsmeow answers a message it cannot decrypt with a retry receipt and an
// <ack class="message">: the ack, not the retry receipt, releases it.
func TestAckOfAnUndecryptableMessageReleasesIt(t *testing.T) {
	const account, contact = "15550033001", "15550033999"
	srv, tc := pairedAccount(t, account)
	ctx := context.Background()

	sendTexts(t, srv, contact, account, "opens the session")
	first := waitFor[*events.Message](t, tc.recorder)
	// The client loses its Signal session with the contact, whose next
	// message (a plain msg on that session) it cannot decrypt.
	if err := tc.cli.Store.Sessions.DeleteSession(ctx, first.Info.SenderAlt.SignalAddress().String()); err != nil {
		t.Fatal(err)
	}
	ids := sendTexts(t, srv, contact, account, "undecryptable")
	if u := waitFor[*events.UndecryptableMessage](t, tc.recorder); u.Info.ID != ids[0] {
		t.Fatalf("undecryptable %s, want %s", u.Info.ID, ids[0])
	}
	waitNothingPending(t, srv, account)
}

// Pending messages go out in their original order even when a new message
// arrives while a login's replay is being written.
func TestReplayKeepsOrderWithConcurrentDelivery(t *testing.T) {
	const account, contact = "15550034001", "15550034999"
	srv, tc := pairedAccount(t, account)
	disconnect(t, srv, tc)
	texts := []string{"queued 1", "queued 2", "queued 3"}
	ids := sendTexts(t, srv, contact, account, texts...)

	// The hook runs on the connection's goroutine: results go by channel.
	var once sync.Once
	live := make(chan string, 1)
	srv.SetBeforeFlushWrite(func() {
		once.Do(func() {
			res, err := srv.SendText(context.Background(), wasim.TextMessage{From: contact, To: account, Text: "live"})
			if err != nil {
				t.Errorf("SendText live: %v", err)
			}
			live <- res.ID
		})
	})
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	gotIDs, gotTexts := nextMessages(t, tc.recorder, len(texts)+1)
	wantIDs, wantTexts := append(ids, <-live), append(texts, "live")
	if !slices.Equal(gotIDs, wantIDs) || !slices.Equal(gotTexts, wantTexts) {
		t.Fatalf("got %v %q, want %v %q", gotIDs, gotTexts, wantIDs, wantTexts)
	}
}

// GET /control/accounts/{phone} and the stats show what each device has
// not acknowledged.
func TestControlShowsPendingMessages(t *testing.T) {
	const account, contact = "15550035001", "15550035999"
	srv, tc := pairedAccount(t, account)
	disconnect(t, srv, tc)
	ids := sendTexts(t, srv, contact, account, "a", "b")

	status, out := ctl(t, srv, "GET", "/control/accounts/+"+account, "")
	lid, _ := out["lid"].(string)
	lidUser, ok := strings.CutSuffix(lid, "@lid")
	if !ok || lidUser == "" {
		t.Fatalf("account lid = %v", out["lid"])
	}
	want := fmt.Sprintf(`{"devices":[{"connected":false,"deviceId":1,"jid":"%s:1@s.whatsapp.net","lid":"%s:1@lid","pending":2,"pendingIds":["%s","%s"]}],"lid":"%s","pending":2,"phoneNumber":"%s"}`,
		account, lidUser, ids[0], ids[1], lid, account)
	if got := mustJSON(out); status != 200 || got != want {
		t.Fatalf("account = %d %s\nwant %s", status, got, want)
	}
	if _, st := ctl(t, srv, "GET", "/control/stats", ""); st["pendingMessages"] != 2.0 {
		t.Fatalf("stats pendingMessages = %v, want 2", st["pendingMessages"])
	}

	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	nextMessages(t, tc.recorder, 2)
	eventually(t, "the account shows nothing pending", func() bool {
		_, out := ctl(t, srv, "GET", "/control/accounts/"+account, "")
		dev := out["devices"].([]any)[0].(map[string]any)
		return out["pending"] == 0.0 && dev["pending"] == 0.0 && len(dev["pendingIds"].([]any)) == 0 && dev["connected"] == true
	})
	if _, st := ctl(t, srv, "GET", "/control/stats", ""); st["pendingMessages"] != 0.0 {
		t.Fatalf("stats pendingMessages = %v, want 0", st["pendingMessages"])
	}

	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/control/accounts/15550035002", 404, "unknown_account"},
		{"/control/accounts/abc", 400, "invalid_phone"},
	} {
		if status, out := ctl(t, srv, "GET", c.path, ""); status != c.status || errCode(out) != c.code {
			t.Errorf("GET %s = %d %v, want %d %s", c.path, status, out, c.status, c.code)
		}
	}
}
