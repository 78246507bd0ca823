package wasim_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

func TestIncomingTextIsDecrypted(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550003001", "15550003999"
	tc := pairQR(t, srv, account)
	ctx := context.Background()

	for i, text := range []string{"hello from a contact", "second message, same session"} {
		res, err := srv.SendText(ctx, wasim.TextMessage{From: "+" + contact, To: account, Text: text, PushName: "Carol"})
		if err != nil {
			t.Fatalf("SendText %d: %v", i, err)
		}
		if res.Devices != 1 || res.ID == "" {
			t.Fatalf("SendText %d = %+v", i, res)
		}
		msg := waitFor[*events.Message](t, tc.recorder)
		if got := msg.Message.GetConversation(); got != text {
			t.Fatalf("message %d text = %q, want %q", i, got, text)
		}
		if msg.Info.ID != res.ID {
			t.Fatalf("message %d id = %s, want %s", i, msg.Info.ID, res.ID)
		}
		if msg.Info.Sender.User != contact || msg.Info.Sender.Server != types.DefaultUserServer || msg.Info.Chat.User != contact {
			t.Fatalf("message %d sender = %s chat = %s, want %s", i, msg.Info.Sender, msg.Info.Chat, contact)
		}
		if msg.Info.SenderAlt.Server != types.HiddenUserServer {
			t.Fatalf("message %d has no sender LID: %s", i, msg.Info.SenderAlt)
		}
		if msg.Info.PushName != "Carol" || msg.Info.IsFromMe {
			t.Fatalf("message %d push name = %q from me = %v", i, msg.Info.PushName, msg.Info.IsFromMe)
		}
	}
}

func TestSendMessageIsDecryptedByContact(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550004001", "15550004999"
	tc := pairQR(t, srv, account)
	ctx := context.Background()
	contactJID := types.NewJID(contact, types.DefaultUserServer)

	// First message to a contact the client never heard from: it asks usync
	// for the LID and devices and fetches a prekey bundle (pkmsg).
	resp, err := tc.cli.SendMessage(ctx, contactJID, &waE2E.Message{Conversation: proto.String("first outgoing")})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	receipt := waitFor[*events.Receipt](t, tc.recorder)
	if len(receipt.MessageIDs) != 1 || receipt.MessageIDs[0] != resp.ID {
		t.Fatalf("receipt for %v, want %s", receipt.MessageIDs, resp.ID)
	}

	// The contact answers on the same session, and the client replies with
	// an extended text (msg, not pkmsg, from now on).
	if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "answer"}); err != nil {
		t.Fatal(err)
	}
	in := waitFor[*events.Message](t, tc.recorder)
	if in.Message.GetConversation() != "answer" {
		t.Fatalf("incoming = %q", in.Message.GetConversation())
	}
	resp2, err := tc.cli.SendMessage(ctx, in.Info.Chat, &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("second outgoing")}})
	if err != nil {
		t.Fatalf("SendMessage 2: %v", err)
	}

	sent, err := srv.Sent("+" + account)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 {
		t.Fatalf("Sent = %+v, want 2 messages", sent)
	}
	for i, want := range []struct{ id, text string }{{resp.ID, "first outgoing"}, {resp2.ID, "second outgoing"}} {
		got := sent[i]
		if got.ID != want.id || got.Text != want.text || got.To != contact || got.From != account || got.Error != "" || got.Timestamp.IsZero() {
			t.Fatalf("Sent[%d] = %+v, want id %s text %q to %s", i, got, want.id, want.text, contact)
		}
	}
}

func TestMessagesQueuedWhileOffline(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550005001", "15550005999"
	tc := pairQR(t, srv, account)
	tc.cli.Disconnect()
	eventually(t, "the server sees the disconnect", func() bool { return srv.Stats().LoggedIn == 0 })

	ctx := context.Background()
	for _, text := range []string{"while you were away 1", "while you were away 2"} {
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"while you were away 1", "while you were away 2"} {
		if got := waitFor[*events.Message](t, tc.recorder).Message.GetConversation(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if off := waitFor[*events.OfflineSyncCompleted](t, tc.recorder); off.Count != 2 {
		t.Fatalf("offline count = %d, want 2", off.Count)
	}
}

func TestSendTextErrors(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	cases := []struct {
		msg  wasim.TextMessage
		code string
	}{
		{wasim.TextMessage{From: "abc", To: "15550006001", Text: "x"}, "invalid_phone"},
		{wasim.TextMessage{From: "15550006999", To: "15550006001", Text: ""}, "invalid_message"},
		{wasim.TextMessage{From: "15550006001", To: "15550006001", Text: "x"}, "invalid_message"},
		{wasim.TextMessage{From: "15550006999", To: "15550006001", Text: "x"}, "unknown_account"},
	}
	for _, c := range cases {
		if _, err := srv.SendText(ctx, c.msg); wasim.ErrorCode(err) != c.code {
			t.Errorf("SendText(%+v) error = %v, want %s", c.msg, err, c.code)
		}
	}
}
