package whatsmeow

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/wasim"
)

// These tests hold the adapter to "nothing lost": the real whatsmeow client against the
// simulator, which keeps every message a device has not acknowledged and shows it
// pending, and a handler that stores into the real messages table (Receive) and fails
// on demand.

// linked gives a parallel test a simulator, a database, a client, a recorder storing on
// the database, and a device linked to account, logged in.
func linked(t *testing.T, account string) (*wasim.Server, *bun.DB, *Client, *recorder, device.ID) {
	t.Helper()
	t.Parallel()
	srv, db, c, r, id := setUp(t)
	pairQR(t, c, srv, r, id, account)
	return srv, db, c, r, id
}

// unacked returns the ids of the messages the account's devices have not acknowledged,
// oldest first.
func unacked(t *testing.T, srv *wasim.Server, account string) []string {
	t.Helper()
	a, err := srv.Account(account)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range a.Devices {
		ids = append(ids, d.PendingIDs...)
	}
	if len(ids) != a.Pending {
		t.Fatalf("account pending %d, ids %v", a.Pending, ids)
	}
	return ids
}

// waitUnacked waits until exactly want (in this order) is unacknowledged.
func waitUnacked(t *testing.T, srv *wasim.Server, account string, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(waitTimeout)
	for {
		if got = unacked(t, srv, account); slices.Equal(got, want) || (len(got) == 0 && len(want) == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unacknowledged %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send has contact send texts to account and returns their ids.
func send(t *testing.T, srv *wasim.Server, contact, account string, texts ...string) []string {
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

// expectTexts waits for the device's next messages, which must be texts in this order.
func expectTexts(t *testing.T, r *recorder, id device.ID, texts ...string) {
	t.Helper()
	for _, want := range texts {
		if m := expect[device.SessionMessage](t, r, id); m.Message.Text != want {
			t.Fatalf("got %q, want %q (all: %s)", m.Message.Text, want, r.describe(id))
		}
	}
}

// messageEvents counts the message events the event log holds for the device.
func messageEvents(t *testing.T, db *bun.DB, id device.ID) int {
	t.Helper()
	recs, err := database.NewStore(db).Events.Read(context.Background(), device.LogQuery{After: 0, Limit: 1000, Devices: []device.ID{id}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range recs {
		if rec.Name == (device.MessageReceived{}).Name() {
			n++
		}
	}
	return n
}

// A handler that cannot store a message keeps it unacknowledged while the session
// retries it, with backoff; the next message waits behind it (whatsmeow hands over
// nothing more). Once storing works, both are stored once, in order, and acknowledged.
func TestFailedStoreIsRetriedNotAcked(t *testing.T) {
	const account, contact = "15550701001", "15550701999"
	srv, db, _, r, id := linked(t, account)
	r.failing(always, nil)
	ids := send(t, srv, contact, account, "one", "two")

	eventually(t, "the message is retried", func() bool { return r.attempts(ids[0]) >= 3 })
	if got := unacked(t, srv, account); !slices.Equal(got, ids) {
		t.Fatalf("unacknowledged while failing: %v, want %v", got, ids)
	}
	if n := r.attempts(ids[1]); n != 0 {
		t.Fatalf("the second message was handed over %d times while the first failed", n)
	}
	expectQuiet(t, r, id, 0)

	r.failing(nil, nil)
	waitUnacked(t, srv, account, nil)
	if n := keptMessages(t, db, id); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
	expectTexts(t, r, id, "one", "two")
	if n := messageEvents(t, db, id); n != 2 {
		t.Fatalf("%d message events, want 2", n)
	}
	expectQuiet(t, r, id, 100*time.Millisecond)
}

// A slow handler: a burst arrives whole and in order, and each message is acknowledged
// only once stored: while the handler holds message k, messages k… are unacknowledged.
func TestSlowHandlerAcksOnlyWhatIsStored(t *testing.T) {
	const account, contact = "15550702001", "15550702999"
	srv, db, _, r, id := linked(t, account)
	entered, release, ended := make(chan string), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(ended) }) // before the client's Close: let go of the handler
	r.failing(func(m device.SessionMessage) error {
		select {
		case entered <- m.Message.ID:
		case <-ended:
			return errStore
		}
		select {
		case <-release:
			return nil
		case <-ended:
			return errStore
		}
	}, nil)
	const n = 8
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("burst %d", i)
	}
	ids := send(t, srv, contact, account, texts...)

	for k := range n {
		select {
		case got := <-entered:
			if got != ids[k] {
				t.Fatalf("handler got %s as message %d, want %s", got, k, ids[k])
			}
		case <-time.After(waitTimeout):
			t.Fatalf("message %d never reached the handler", k)
		}
		// The acknowledgement of message k-1 may still be on its way; nothing from k on
		// may be acknowledged.
		if got := unacked(t, srv, account); len(got) < n-k || !slices.Equal(got[len(got)-(n-k):], ids[k:]) {
			t.Fatalf("while storing message %d: unacknowledged %v, want at least %v", k, got, ids[k:])
		}
		waitUnacked(t, srv, account, ids[k:])
		release <- struct{}{}
	}
	expectTexts(t, r, id, texts...)
	waitUnacked(t, srv, account, nil)
	if got := keptMessages(t, db, id); got != n {
		t.Fatalf("%d messages stored, want %d", got, n)
	}
}

// A session stopped while its handler fails leaves the message unacknowledged; the next
// Connect gets it again (decrypted from whatsmeow's buffer: the Signal ratchet moved on)
// and stores it once.
func TestStoppedSessionLeavesMessageForNextLogin(t *testing.T) {
	const account, contact = "15550703001", "15550703999"
	srv, db, c, r, id := linked(t, account)
	ctx := context.Background()
	jid := storedJID(t, c, account)
	r.failing(always, nil)
	ids := send(t, srv, contact, account, "while down")
	eventually(t, "the handler failed", func() bool { return r.attempts(ids[0]) >= 1 })

	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })
	if got := unacked(t, srv, account); !slices.Equal(got, ids) {
		t.Fatalf("unacknowledged after Disconnect: %v, want %v", got, ids)
	}
	expectQuiet(t, r, id, 0)

	r.failing(nil, nil)
	if err := c.Connect(ctx, device.Session{DeviceID: id, JID: jid}, r); err != nil {
		t.Fatal(err)
	}
	// Acknowledged means stored: check the table before waiting for the events, so that a
	// message acknowledged but lost fails at once.
	waitUnacked(t, srv, account, nil)
	if n := keptMessages(t, db, id); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	// The simulator replays at login, which whatsmeow may hand over before Connected.
	var connected, texts int
	for range 2 {
		switch ev := r.next(t, id).(type) {
		case device.SessionConnected:
			connected++
		case device.SessionMessage:
			if ev.Message.Text == "while down" {
				texts++
			}
		}
	}
	if connected != 1 || texts != 1 {
		t.Fatalf("after Connect: %s, want connected and the message once", r.describe(id))
	}
	expectQuiet(t, r, id, 100*time.Millisecond)
}

// A message stored whose acknowledgement was lost (the handler stored it, then failed,
// and the session stopped) comes again at the next login: the store knows it, so it
// makes no second event, and it is acknowledged now.
func TestStoredButUnackedIsNotReportedTwice(t *testing.T) {
	const account, contact = "15550704001", "15550704999"
	srv, db, c, r, id := linked(t, account)
	ctx := context.Background()
	jid := storedJID(t, c, account)
	r.failing(nil, always)
	ids := send(t, srv, contact, account, "stored once")
	expectTexts(t, r, id, "stored once")
	eventually(t, "the handler failed again", func() bool { return r.attempts(ids[0]) >= 2 })

	if err := c.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })
	if got := unacked(t, srv, account); !slices.Equal(got, ids) {
		t.Fatalf("unacknowledged after Disconnect: %v, want %v", got, ids)
	}

	r.failing(nil, nil)
	before := r.attempts(ids[0])
	if err := c.Connect(ctx, device.Session{DeviceID: id, JID: jid}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionConnected](t, r, id)
	waitUnacked(t, srv, account, nil)
	if n := r.attempts(ids[0]); n != before+1 {
		t.Fatalf("handed over %d times after the login, want once", n-before)
	}
	if n := keptMessages(t, db, id); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	if n := messageEvents(t, db, id); n != 1 {
		t.Fatalf("%d message events, want 1", n)
	}
	expectQuiet(t, r, id, 100*time.Millisecond)
}
