package wasim_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

// TestReceiptsAndActivity: the contact delivers, reads and plays what the client
// sent, the account's phone reads the contact's messages, and the contact sees the
// client's read receipts and chat states.
func TestReceiptsAndActivity(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const account, contact = "15550012001", "15550012999"
	tc := pairQR(t, srv, account)
	ctx := context.Background()
	contactJID := types.NewJID(contact, types.DefaultUserServer)

	resp, err := tc.cli.SendMessage(ctx, contactJID, &waE2E.Message{Conversation: proto.String("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitFor[*events.Receipt](t, tc.recorder); r.Type != types.ReceiptTypeDelivered || !slices.Equal(r.MessageIDs, []string{resp.ID}) {
		t.Fatalf("first receipt %s %v, want delivered %s", r.Type, r.MessageIDs, resp.ID)
	}
	for _, typ := range []string{"read", "played"} {
		if n, err := srv.Receipt(wasim.ReceiptRequest{From: contact, To: account, IDs: []string{resp.ID, "3EB0OTHER"}, Type: typ}); err != nil || n != 1 {
			t.Fatalf("Receipt %s: %d, %v", typ, n, err)
		}
		r := waitFor[*events.Receipt](t, tc.recorder)
		if string(r.Type) != typ || !slices.Equal(r.MessageIDs, []string{resp.ID, "3EB0OTHER"}) || r.Sender.User != contact || r.IsFromMe || r.SenderAlt.Server != types.HiddenUserServer {
			t.Fatalf("%s receipt: %+v", typ, r)
		}
	}
	if _, err := srv.Receipt(wasim.ReceiptRequest{From: account, To: account, Chat: contact, IDs: []string{"3EB0IN"}, Type: "read"}); err != nil {
		t.Fatal(err)
	}
	if r := waitFor[*events.Receipt](t, tc.recorder); r.Type != types.ReceiptTypeReadSelf || !r.IsFromMe || r.Chat != contactJID {
		t.Fatalf("own read: %+v", r)
	}
	for _, bad := range []wasim.ReceiptRequest{
		{From: contact, To: account, Type: "read"},
		{From: contact, To: account, IDs: []string{"x"}, Type: "seen"},
		{From: account, To: account, IDs: []string{"x"}, Type: "read"},
	} {
		if _, err := srv.Receipt(bad); wasim.ErrorCode(err) != "invalid_receipt" {
			t.Errorf("Receipt(%+v) = %v, want invalid_receipt", bad, err)
		}
	}

	if err := tc.cli.MarkRead(ctx, []string{"A1", "A2"}, time.Now(), contactJID, types.EmptyJID); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		state types.ChatPresence
		media types.ChatPresenceMedia
	}{{types.ChatPresenceComposing, ""}, {types.ChatPresenceComposing, types.ChatPresenceMediaAudio}, {types.ChatPresencePaused, ""}} {
		if err := tc.cli.SendChatPresence(ctx, contactJID, st.state, st.media); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	eventually(t, "four activities", func() bool {
		a, err := srv.Activity(account)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, x := range a {
			got = append(got, x.Kind+" "+x.To+" "+x.Type+x.State+" "+strings.Join(x.IDs, ","))
		}
		return len(a) >= 4
	})
	want := []string{"receipt " + contact + " read A1,A2", "chatstate " + contact + " composing ", "chatstate " + contact + " recording ", "chatstate " + contact + " paused "}
	if !slices.Equal(got, want) {
		t.Fatalf("activity\n got %q\nwant %q", got, want)
	}

	pic, err := tc.cli.GetProfilePictureInfo(ctx, contactJID, nil)
	if err != nil || !strings.HasPrefix(pic.URL, "https://"+wasim.PictureHost+"/") || pic.ID == "" {
		t.Fatalf("profile picture %+v, %v", pic, err)
	}
}

// TestIncomingEditRevokeAndRetry: a contact edits and deletes its message, and sends
// one the client cannot decrypt, then the real one after the retry receipt.
func TestIncomingEditRevokeAndRetry(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const account, contact = "15550013001", "15550013999"
	tc := pairQR(t, srv, account)
	ctx := context.Background()

	first, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "tpyo"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Message](t, tc.recorder)
	if _, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: contact, To: account, Type: "edit", TargetID: first.ID, Text: "typo"}); err != nil {
		t.Fatal(err)
	}
	edit := waitFor[*events.Message](t, tc.recorder)
	pm := edit.Message.GetProtocolMessage()
	if !edit.IsEdit || pm.GetType() != waE2E.ProtocolMessage_MESSAGE_EDIT || pm.GetKey().GetID() != first.ID || pm.GetEditedMessage().GetConversation() != "typo" {
		t.Fatalf("edit: %v %v", edit.IsEdit, pm)
	}
	if _, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: contact, To: account, Type: "revoke", TargetID: first.ID}); err != nil {
		t.Fatal(err)
	}
	revoke := waitFor[*events.Message](t, tc.recorder).Message.GetProtocolMessage()
	if revoke.GetType() != waE2E.ProtocolMessage_REVOKE || revoke.GetKey().GetID() != first.ID {
		t.Fatalf("revoke: %v", revoke)
	}

	sent, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: contact, To: account, Text: "second try", Undecryptable: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := waitFor[*events.UndecryptableMessage](t, tc.recorder)
	if bad.Info.ID != sent.ID || bad.Info.Sender.User != contact {
		t.Fatalf("undecryptable: %+v", bad.Info)
	}
	real := waitFor[*events.Message](t, tc.recorder)
	if real.Info.ID != sent.ID || real.Message.GetConversation() != "second try" {
		t.Fatalf("after the retry: %s %v", real.Info.ID, real.Message)
	}
	eventually(t, "nothing pending", func() bool {
		a, _ := srv.Account(account)
		return len(a.Devices) == 1 && len(a.Devices[0].PendingIDs) == 0
	})
}
