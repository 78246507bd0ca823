package whatsmeow

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/wasim"
)

// expectStatus waits for the device's next receipt and checks its status and ids.
func expectStatus(t *testing.T, r *recorder, id device.ID, status message.Status, ids ...string) message.StatusUpdate {
	t.Helper()
	u := expect[device.SessionReceipt](t, r, id).Update
	if u.Status != status || !slices.Equal(u.MessageIDs, ids) {
		t.Fatalf("receipt %s %v, want %s %v", u.Status, u.MessageIDs, status, ids)
	}
	return u
}

// TestStatusesAndChatCalls: a message sent is reported sent, delivered, read and
// played, in that order, as the contact's phone receipts it; the account's own reads
// are reported too. Read receipts, chat states, edits and revokes reach the contact.
func TestStatusesAndChatCalls(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	c := newClient(t, db, testConfig(srv))
	r := newRecorder(db)
	r.receipts = true
	id := newID()
	ctx := context.Background()
	const account, contact = "15550421001", "15550421999"
	const contactJID = contact + "@s.whatsapp.net"
	pairQR(t, c, srv, r, id, account)

	sent, err := c.Send(ctx, id, textTo(contact, "how are you"))
	if err != nil {
		t.Fatal(err)
	}
	u := expectStatus(t, r, id, message.StatusSent, sent.ID)
	if !u.FromMe || u.From.PhoneNumber != account || u.Chat != contactJID {
		t.Fatalf("sent: %+v", u)
	}
	// The contact's phone answers from its LID (as whatsmeow addressed it): the chat is
	// that, and the sender has both addresses.
	u = expectStatus(t, r, id, message.StatusDelivered, sent.ID)
	if u.FromMe || u.From.PhoneNumber != contact || !strings.HasSuffix(u.From.LID, "@lid") || u.Chat != u.From.LID {
		t.Fatalf("delivered: %+v", u)
	}
	for _, st := range []message.Status{message.StatusRead, message.StatusPlayed} {
		if _, err := srv.Receipt(wasim.ReceiptRequest{From: contact, To: account, IDs: []string{sent.ID}, Type: string(st)}); err != nil {
			t.Fatal(err)
		}
		if u := expectStatus(t, r, id, st, sent.ID); u.From.PhoneNumber != contact || u.FromMe {
			t.Fatalf("%s: %+v", st, u)
		}
	}
	if _, err := srv.Receipt(wasim.ReceiptRequest{From: account, To: account, Chat: contact, IDs: []string{"3EB0IN"}, Type: "read"}); err != nil {
		t.Fatal(err)
	}
	if u := expectStatus(t, r, id, message.StatusRead, "3EB0IN"); !u.FromMe || u.Chat != contactJID || u.From.PhoneNumber != account {
		t.Fatalf("own read: %+v", u)
	}

	if err := c.MarkRead(ctx, id, message.ReadMark{Chat: contact, IDs: []string{"IN1", "IN2"}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []message.ChatState{message.ChatComposing, message.ChatRecording, message.ChatPaused} {
		if err := c.SetChatState(ctx, id, "+"+contact, st); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	eventually(t, "the contact sees four signs of activity", func() bool {
		activity, err := srv.Activity(account)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, a := range activity {
			seen = append(seen, a.To+" "+a.Kind+" "+a.Type+a.State+" "+strings.Join(a.IDs, ","))
		}
		return len(seen) >= 4
	})
	want := []string{contact + " receipt read IN1,IN2", contact + " chatstate composing ", contact + " chatstate recording ", contact + " chatstate paused "}
	if !slices.Equal(seen, want) {
		t.Fatalf("the contact saw\n %q\nwant\n %q", seen, want)
	}

	edit, err := c.Edit(ctx, id, message.Edit{Chat: contactJID, MessageID: sent.ID, Text: "how are you?"})
	if err != nil {
		t.Fatal(err)
	}
	revoke, err := c.Revoke(ctx, id, contact, sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, sent := range []string{edit.ID, revoke.ID} { // reported as any message sent
		expectStatus(t, r, id, message.StatusSent, sent)
		expectStatus(t, r, id, message.StatusDelivered, sent)
	}
	msgs, err := srv.Sent(account)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("the contact got %d messages: %+v", len(msgs), msgs)
	}
	if e := msgs[1]; e.ID != edit.ID || e.Type != "edit" || e.TargetID != sent.ID || e.Text != "how are you?" {
		t.Fatalf("edit: %+v", e)
	}
	if v := msgs[2]; v.ID != revoke.ID || v.Type != "revoke" || v.TargetID != sent.ID {
		t.Fatalf("revoke: %+v", v)
	}

	checks, err := c.CheckPhones(ctx, id, []string{contact, "15550421888"})
	if err != nil || len(checks) != 2 {
		t.Fatalf("CheckPhones: %+v, %v", checks, err)
	}
	for i, ch := range checks {
		if !ch.OnWhatsApp || ch.JID != ch.Phone+"@s.whatsapp.net" || (i == 0 && !strings.HasSuffix(ch.LID, "@lid")) {
			t.Errorf("check %d: %+v", i, ch)
		}
	}
	pic, err := c.ProfilePicture(ctx, id, contact)
	if err != nil || !strings.HasPrefix(pic.URL, "https://"+wasim.PictureHost+"/") || pic.ID == "" {
		t.Fatalf("ProfilePicture: %+v, %v", pic, err)
	}
	for what, err := range map[string]error{
		"mark read, bad chat": c.MarkRead(ctx, id, message.ReadMark{Chat: "nobody", IDs: []string{"x"}}),
		"state, bad chat":     c.SetChatState(ctx, id, "nobody", message.ChatPaused),
	} {
		wantKind(t, err, domain.KindInvalid, what)
	}
	_, err = c.CheckPhones(ctx, newID(), []string{contact})
	wantKind(t, err, domain.KindConflict, "check without a session")
}

// TestIncomingChanges: a contact's edits, revokes and reactions are reported as
// messages naming the message they change; a message the device cannot decrypt is
// reported as such, and then for real once the contact sends it again.
func TestIncomingChanges(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	c := newClient(t, db, testConfig(srv))
	r := newRecorder(db)
	id := newID()
	ctx := context.Background()
	const account, contact = "15550422001", "15550422999"
	pairQR(t, c, srv, r, id, account)

	first, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "tpyo"})
	if err != nil {
		t.Fatal(err)
	}
	expect[device.SessionMessage](t, r, id)
	for _, in := range []wasim.IncomingMessage{
		{Type: "edit", TargetID: first.ID, Text: "typo"},
		{Type: "reaction", TargetID: first.ID, Emoji: "🙈"},
		{Type: "revoke", TargetID: first.ID},
	} {
		in.From, in.To = contact, account
		if _, err := srv.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
		m := expect[device.SessionMessage](t, r, id).Message
		if string(m.Type) != in.Type || m.TargetID != first.ID || m.Text != in.Text || m.Sender.PhoneNumber != contact {
			t.Fatalf("%s: %+v", in.Type, m)
		}
	}

	again, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: contact, To: account, Text: "once more", Undecryptable: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := expect[device.SessionUndecryptable](t, r, id).Message
	if bad.ID != again.ID || bad.Type != message.TypeUndecryptable || bad.Sender.PhoneNumber != contact || !strings.HasSuffix(bad.Sender.LID, "@lid") {
		t.Fatalf("undecryptable: %+v", bad)
	}
	if m := expect[device.SessionMessage](t, r, id).Message; m.ID != again.ID || m.Text != "once more" {
		t.Fatalf("after the retry: %+v", m)
	}
}
