package whatsmeow

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.mau.fi/whatsmeow/types"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/wasim"
)

// A contact writes; the device reports the normalized message. The device answers with
// every kind of message the simulator can decrypt, and the contact receives them.
func TestReceiveAndSend(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		ctx := context.Background()
		const account, contact = "15550401001", "15550401999"
		pairQR(t, c, srv, r, id, account)

		before := time.Now().Add(-2 * time.Second) // WhatsApp timestamps are whole seconds
		in, err := srv.SendText(ctx, wasim.TextMessage{From: "+" + contact, To: account, Text: "hello gateway", PushName: "Bob"})
		if err != nil {
			t.Fatal(err)
		}
		got := expect[device.SessionMessage](t, r, id).Message
		want := message.Message{
			ID:   in.ID,
			Chat: contact + "@s.whatsapp.net",
			Sender: message.Sender{
				JID: contact + "@s.whatsapp.net", PhoneNumber: contact, LID: got.Sender.LID,
			},
			PushName:  "Bob",
			Type:      message.TypeText,
			Text:      "hello gateway",
			Timestamp: got.Timestamp,
		}
		if !strings.HasSuffix(got.Sender.LID, "@lid") || strings.Contains(got.Sender.LID, ":") {
			t.Fatalf("sender LID = %q, want user@lid", got.Sender.LID)
		}
		if got.Timestamp.Before(before) || got.Timestamp.After(time.Now()) || got.Timestamp.Location() != time.UTC {
			t.Fatalf("timestamp %v, want now in UTC", got.Timestamp)
		}
		if !equalMessages(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}

		// The message is kept, for replies, reactions and media.
		kept, err := c.keptIn(ctx, id, types.NewJID(contact, types.DefaultUserServer), got.ID)
		if err != nil || kept == nil {
			t.Fatalf("kept message: %+v, %v", kept, err)
		}
		if kept.Sender.String() != contact+"@s.whatsapp.net" || kept.Chat.String() != got.Chat || kept.FromMe || kept.Message.GetConversation() != "hello gateway" {
			t.Fatalf("kept message = %+v", kept)
		}

		const mentioned = "15550401888"
		sends := []struct {
			name string
			out  message.Outgoing
			want wasim.SentMessage // what the contact decrypted (ID, From, To, Timestamp aside)
		}{
			{"text", message.Outgoing{To: "+1 555 040 1999", Text: "plain text"}, wasim.SentMessage{Type: "text", Text: "plain text"}},
			{"reply", message.Outgoing{To: got.Chat, Text: "a reply", ReplyTo: got.ID}, wasim.SentMessage{Type: "text", Text: "a reply", QuotedID: got.ID}},
			{"reply to unknown", message.Outgoing{To: contact, Text: "a reply by id", ReplyTo: "3EB0UNKNOWN"}, wasim.SentMessage{Type: "text", Text: "a reply by id", QuotedID: "3EB0UNKNOWN"}},
			{"mention", message.Outgoing{To: contact, Text: "hi", Mentions: []string{mentioned}}, wasim.SentMessage{Type: "text", Text: "hi @" + mentioned, Mentions: []string{mentioned + "@s.whatsapp.net"}}},
			{"mention named", message.Outgoing{To: contact, Text: "hi @" + mentioned + "!", Mentions: []string{mentioned + "@s.whatsapp.net"}}, wasim.SentMessage{Type: "text", Text: "hi @" + mentioned + "!", Mentions: []string{mentioned + "@s.whatsapp.net"}}},
			{"location", message.Outgoing{To: contact, Location: &message.Location{Latitude: 52.52, Longitude: 13.405, Name: "Berlin", Address: "Mitte"}},
				wasim.SentMessage{Type: "location", Location: &wasim.Location{Latitude: 52.52, Longitude: 13.405, Name: "Berlin", Address: "Mitte"}}},
			{"location reply", message.Outgoing{To: contact, ReplyTo: got.ID, Location: &message.Location{Latitude: 1, Longitude: 2}},
				wasim.SentMessage{Type: "location", Location: &wasim.Location{Latitude: 1, Longitude: 2}, QuotedID: got.ID}},
			{"contact", message.Outgoing{To: contact, Contact: &message.Contact{Name: "Carol", PhoneNumber: "+44 20 7946 0958"}},
				wasim.SentMessage{Type: "contact", Contact: &wasim.Contact{DisplayName: "Carol", VCard: "BEGIN:VCARD\nVERSION:3.0\nN:;Carol;;;\nFN:Carol\nTEL;type=CELL;type=VOICE;waid=442079460958:+442079460958\nEND:VCARD"}}},
			{"reaction", message.Outgoing{To: contact, Reaction: &message.Reaction{MessageID: got.ID, Emoji: "👍"}}, wasim.SentMessage{Type: "reaction", TargetID: got.ID, Emoji: "👍"}},
			{"reaction removed", message.Outgoing{To: contact, Reaction: &message.Reaction{MessageID: got.ID}}, wasim.SentMessage{Type: "reaction", TargetID: got.ID}},
			{"to a LID", message.Outgoing{To: got.Sender.LID, Text: "to the LID"}, wasim.SentMessage{Type: "text", Text: "to the LID"}},
		}
		var receipts []message.Receipt
		for _, s := range sends {
			rc, err := c.Send(ctx, id, s.out)
			if err != nil {
				t.Fatalf("send %s: %v", s.name, err)
			}
			if rc.ID == "" || rc.Timestamp.IsZero() || (rc.To != contact+"@s.whatsapp.net" && rc.To != got.Sender.LID) {
				t.Fatalf("send %s: receipt %+v", s.name, rc)
			}
			receipts = append(receipts, rc)
		}
		if kept, err := c.keptIn(ctx, id, types.NewJID(contact, types.DefaultUserServer), receipts[0].ID); err != nil || kept == nil || !kept.FromMe || kept.Message.GetConversation() != "plain text" {
			t.Fatalf("kept sent message: %+v, %v", kept, err)
		}
		sent, err := srv.Sent(account)
		if err != nil {
			t.Fatal(err)
		}
		if len(sent) != len(sends) {
			t.Fatalf("the contact received %d messages, want %d: %+v", len(sent), len(sends), sent)
		}
		for i, s := range sends {
			m, want := sent[i], s.want
			want.ID, want.From, want.FromDevice, want.To, want.Timestamp = receipts[i].ID, account, m.FromDevice, contact, m.Timestamp
			if !reflect.DeepEqual(m, want) {
				t.Errorf("send %s: the contact got\n %+v\nwant\n %+v", s.name, m, want)
			}
		}
	})
}

func equalMessages(a, b message.Message) bool {
	return a.ID == b.ID && a.Chat == b.Chat && a.Sender == b.Sender && a.PushName == b.PushName &&
		a.FromMe == b.FromMe && a.IsGroup == b.IsGroup && a.Type == b.Type && a.Text == b.Text &&
		a.Caption == b.Caption && (a.Media == nil) == (b.Media == nil) && a.QuotedID == b.QuotedID &&
		len(a.Mentions) == len(b.Mentions) && a.Timestamp.Equal(b.Timestamp)
}

func TestSendErrors(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	c := newClient(t, db, testConfig(srv))
	r := newRecorder(db)
	ctx := context.Background()

	// Not connected: unknown device, pairing device.
	if _, err := c.Send(ctx, newID(), textTo("15550402999", "x")); domain.KindOf(err) != domain.KindConflict {
		t.Fatalf("Send without a session: %v, want conflict", err)
	}
	pairing := newID()
	if err := c.Connect(ctx, device.Session{DeviceID: pairing}, r); err != nil {
		t.Fatal(err)
	}
	expect[device.SessionQR](t, r, pairing)
	wantKind(t, func() error { _, err := c.Send(ctx, pairing, textTo("15550402999", "x")); return err }(), domain.KindConflict, "Send while pairing")

	id := newID()
	pairQR(t, c, srv, r, id, "15550402001")
	for _, o := range []message.Outgoing{
		{To: "", Text: "x"},
		{To: "abc", Text: "x"},
		{To: "123", Text: "x"},
		{To: "0049151123456", Text: "x"},
		{To: "someone@example.com", Text: "x"},
		{To: "abc@s.whatsapp.net", Text: "x"},
		{To: "@s.whatsapp.net", Text: "x"},
		{To: "status@broadcast", Text: "x"},
		{To: "15550402999", Text: "x", Mentions: []string{"nobody"}},
		{To: "15550402999", Contact: &message.Contact{Name: "A", PhoneNumber: "12"}},
		{To: "15550402999"},
	} {
		_, err := c.Send(ctx, id, o)
		wantKind(t, err, domain.KindInvalid, "Send to "+o.To)
	}
	if sent, err := srv.Sent("15550402001"); err != nil || len(sent) != 0 {
		t.Fatalf("Sent = %+v, %v: nothing should have been sent", sent, err)
	}
}
