package msgconv

import (
	"testing"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain/message"
)

// FuzzIncoming converts whatever protobuf a peer could send: no panic, and the message
// carries the part its type promises and no other.
func FuzzIncoming(f *testing.F) {
	quote := &waE2E.ContextInfo{StanzaID: proto.String("Q"), MentionedJID: []string{"15550002222@s.whatsapp.net"}}
	for _, m := range []*waE2E.Message{
		{Conversation: proto.String("hi")},
		{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("re"), ContextInfo: quote}},
		{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(1234), JPEGThumbnail: []byte{1}}},
		{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), FileLength: proto.Uint64(99)}},
		{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg"), Waveform: []byte{1, 2}}},
		{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("r.pdf"), ContextInfo: quote}},
		{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp")}},
		{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.5), DegreesLongitude: proto.Float64(13.4)}},
		{LiveLocationMessage: &waE2E.LiveLocationMessage{Caption: proto.String("here")}},
		{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Carol"), Vcard: proto.String("BEGIN:VCARD")}},
		{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: []*waE2E.ContactMessage{{DisplayName: proto.String("Dan")}}}},
		{ContactsArrayMessage: &waE2E.ContactsArrayMessage{}},
		{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("T")}, Text: proto.String("❤")}},
		{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("?")}},
		{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{ID: proto.String("T")}}},
		{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("T")},
			EditedMessage: &waE2E.Message{Conversation: proto.String("new")}}},
		{Conversation: proto.String("both"), ImageMessage: &waE2E.ImageMessage{}},
		{},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg waE2E.Message
		if proto.Unmarshal(b, &msg) != nil {
			return
		}
		m := Incoming(event(&msg))
		parts := map[message.Type]bool{
			message.TypeText: false, message.TypeUnknown: false, message.TypeImage: m.Media != nil,
			message.TypeVideo: m.Media != nil, message.TypeAudio: m.Media != nil, message.TypeDocument: m.Media != nil,
			message.TypeSticker: m.Media != nil, message.TypeLocation: m.Location != nil,
			message.TypeContact: m.Contact != nil, message.TypeReaction: m.Reaction != nil,
			message.TypeRevoke: m.TargetID != "", message.TypeEdit: m.TargetID != "",
		}
		has, known := parts[m.Type]
		others := 0
		for _, p := range []bool{m.Media != nil, m.Location != nil, m.Contact != nil, m.Reaction != nil} {
			if p {
				others++
			}
		}
		switch {
		case !known:
			t.Fatalf("type %q", m.Type)
		case m.Type == message.TypeText || m.Type == message.TypeUnknown:
			if others != 0 {
				t.Fatalf("%s message with a content part: %+v", m.Type, m)
			}
		case m.Type == message.TypeRevoke || m.Type == message.TypeEdit:
			if !has || others != 0 {
				t.Fatalf("%s without its target, or with a content part: %+v", m.Type, m)
			}
		case !has || others != 1:
			t.Fatalf("%s message without its part, or with another: %+v", m.Type, m)
		}
		if m.Type == message.TypeUnknown && (m.Text != "" || m.Caption != "" || m.QuotedID != "" || len(m.Mentions) != 0) {
			t.Fatalf("unknown message with content: %+v", m)
		}
		if m.Media != nil && m.Media.Size < 0 {
			t.Fatalf("negative media size %d", m.Media.Size)
		}
		// The media a message reports is the part that gets downloaded. (A text with an
		// image beside it reports none: Media refuses to download it.)
		if m.Media != nil {
			part := map[message.Type]any{
				message.TypeImage: msg.ImageMessage, message.TypeVideo: msg.VideoMessage, message.TypeAudio: msg.AudioMessage,
				message.TypeDocument: msg.DocumentMessage, message.TypeSticker: msg.StickerMessage,
			}[m.Type]
			if d := Downloadable(&msg); d == nil || d != part {
				t.Fatalf("%s message downloads %T", m.Type, d)
			}
		}
		// Trimming for storage keeps the content.
		if trimmed := Incoming(event(Trim(&msg))); trimmed.Type != m.Type || trimmed.Text != m.Text || trimmed.Caption != m.Caption {
			t.Fatalf("trimmed: %+v, was %+v", trimmed, m)
		}
	})
}
