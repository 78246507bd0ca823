package whatsmeow

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/wasim"
)

// Message ids are chosen by their senders. Member B of a group reuses the id of member
// A's message, in the group and in B's own chat: A's message keeps its media, stays the
// one replies and reactions refer to, and its file is still A's. The simulator has no
// groups and picks the ids itself, so the two group messages are handed to the session
// as whatsmeow would after decrypting them, with the contents A and B really sent.
func TestCopiedMessageIDReplacesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder(db)
		id := newID()
		ctx := context.Background()
		const account, phoneA, phoneB = "15550601001", "15550601002", "15550601003"
		pairQR(t, c, srv, r, id, account)
		memberA, memberB := types.NewJID(phoneA, types.DefaultUserServer), types.NewJID(phoneB, types.DefaultUserServer)
		group := types.NewJID("120363000000000001", types.GroupServer)

		// A and B each send an image in their own chat, for real.
		fileA, fileB := randomBytes(3000), randomBytes(5000)
		var sentA, sentB *waE2E.Message
		var idA string
		for _, s := range []struct {
			from types.JID
			data []byte
			out  **waE2E.Message
		}{{memberA, fileA, &sentA}, {memberB, fileB, &sentB}} {
			res, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: s.from.User, To: account, Type: "image", Data: s.data})
			if err != nil {
				t.Fatal(err)
			}
			expect[device.SessionMessage](t, r, id)
			kept, err := c.keptIn(ctx, id, s.from, res.ID)
			if err != nil || kept == nil {
				t.Fatalf("%s's image not kept: %v", s.from, err)
			}
			*s.out = kept.Message
			if s.from == memberA {
				idA = res.ID
			}
		}

		// In the group, A sends first and B reuses the id; B also reuses the id of A's own
		// chat message, in B's chat.
		const shared = "3EB0C0FFEEC0FFEEC0FFEE"
		deliver := func(msgID string, chat, sender types.JID, content *waE2E.Message) {
			t.Helper()
			c.session(id).onEvent(&events.Message{
				Info: types.MessageInfo{
					MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsGroup: chat.Server == types.GroupServer},
					ID:            msgID, Timestamp: time.Now(),
				},
				Message: proto.Clone(content).(*waE2E.Message),
			})
			if got := expect[device.SessionMessage](t, r, id).Message; got.ID != msgID || got.Sender.JID != sender.String() {
				t.Fatalf("reported %+v, want %s from %s", got, msgID, sender)
			}
		}
		deliver(shared, group, memberA, sentA)
		deliver(shared, group, memberB, sentB)
		deliver(idA, memberB, memberB, sentB)

		// Replies and reactions in the group, and in A's chat, refer to A's message.
		for _, k := range []struct {
			chat  types.JID
			msgID string
		}{{group, shared}, {memberA, idA}} {
			kept, err := c.keptIn(ctx, id, k.chat, k.msgID)
			if err != nil || kept == nil {
				t.Fatalf("message %s in %s: %+v, %v", k.msgID, k.chat, kept, err)
			}
			if kept.Sender != memberA || kept.Chat != k.chat || !proto.Equal(kept.Message, sentA) {
				t.Fatalf("message %s in %s is %s's, in %s (A's image: %v), want A's image", k.msgID, k.chat, kept.Sender, kept.Chat, proto.Equal(kept.Message, sentA))
			}
		}
		// Sending them works (the simulator cannot send to a group: A's chat only).
		for _, out := range []message.Outgoing{
			{To: phoneA, Text: "about your picture", ReplyTo: idA},
			{To: phoneA, Reaction: &message.Reaction{MessageID: idA, Emoji: "👍"}},
		} {
			if _, err := c.Send(ctx, id, out); err != nil {
				t.Fatalf("send %+v: %v", out, err)
			}
		}

		// The media: an id that several senders used must be narrowed down to one.
		for _, ref := range []message.MediaRef{
			{MessageID: shared}, {MessageID: shared, Chat: group.String()}, {MessageID: idA},
		} {
			_, err := c.Media(ctx, id, ref)
			wantKind(t, err, domain.KindConflict, "Media of an ambiguous id")
		}
		for _, want := range []struct {
			ref  message.MediaRef
			file []byte
		}{
			{message.MediaRef{MessageID: shared, Chat: group.String(), Sender: memberA.String()}, fileA},
			{message.MediaRef{MessageID: shared, Chat: group.String(), Sender: "+" + phoneB}, fileB},
			{message.MediaRef{MessageID: shared, Sender: phoneA}, fileA},
			{message.MediaRef{MessageID: idA, Chat: phoneA}, fileA},
			{message.MediaRef{MessageID: idA, Chat: memberB.String()}, fileB},
		} {
			if got, _ := download(t, c, id, want.ref); !bytes.Equal(got, want.file) {
				t.Fatalf("Media %+v: got %d bytes, not the file of that sender", want.ref, len(got))
			}
		}
		_, err := c.Media(ctx, id, message.MediaRef{MessageID: shared, Chat: "not a chat"})
		wantKind(t, err, domain.KindInvalid, "Media with a bad chat")
	})
}
