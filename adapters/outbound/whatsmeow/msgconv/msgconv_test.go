package msgconv

import (
	"reflect"
	"strings"
	"testing"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain/message"
)

var (
	pn  = types.NewJID("15550001111", types.DefaultUserServer)
	lid = types.NewJID("100000000000042", types.HiddenUserServer)
	ts  = time.Date(2026, 11, 26, 12, 0, 0, 0, time.FixedZone("x", 3600))
)

func event(msg *waE2E.Message) *events.Message {
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: pn, Sender: types.JID{User: pn.User, Server: pn.Server, Device: 3}, SenderAlt: lid},
			ID:            "3EB0ABC", PushName: "Bob", Timestamp: ts,
		},
		Message: msg,
	}
}

func TestIncomingKinds(t *testing.T) {
	quote := &waE2E.ContextInfo{StanzaID: proto.String("QUOTED"), MentionedJID: []string{"15550002222@s.whatsapp.net"}}
	cases := []struct {
		name string
		msg  *waE2E.Message
		want message.Message // only the content fields
	}{
		{"conversation", &waE2E.Message{Conversation: proto.String("hi")}, message.Message{Type: message.TypeText, Text: "hi"}},
		{"extended text", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("re"), ContextInfo: quote}},
			message.Message{Type: message.TypeText, Text: "re", QuotedID: "QUOTED", Mentions: []string{"15550002222@s.whatsapp.net"}}},
		{"image", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(1234), ContextInfo: quote}},
			message.Message{Type: message.TypeImage, Caption: "look", Media: &message.Media{MimeType: "image/jpeg", Size: 1234}, QuotedID: "QUOTED", Mentions: []string{"15550002222@s.whatsapp.net"}}},
		{"video", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: proto.String("clip"), Mimetype: proto.String("video/mp4"), FileLength: proto.Uint64(99)}},
			message.Message{Type: message.TypeVideo, Caption: "clip", Media: &message.Media{MimeType: "video/mp4", Size: 99}}},
		{"audio", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), FileLength: proto.Uint64(7)}},
			message.Message{Type: message.TypeAudio, Media: &message.Media{MimeType: "audio/ogg; codecs=opus", Size: 7}}},
		{"document", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("the report"), Mimetype: proto.String("application/pdf"), FileLength: proto.Uint64(5), FileName: proto.String("r.pdf")}},
			message.Message{Type: message.TypeDocument, Caption: "the report", Media: &message.Media{MimeType: "application/pdf", Size: 5, FileName: "r.pdf"}}},
		{"sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp"), FileLength: proto.Uint64(3)}},
			message.Message{Type: message.TypeSticker, Media: &message.Media{MimeType: "image/webp", Size: 3}}},
		{"location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.5), DegreesLongitude: proto.Float64(13.4), Name: proto.String("Berlin"), Address: proto.String("Mitte")}},
			message.Message{Type: message.TypeLocation, Location: &message.Location{Latitude: 52.5, Longitude: 13.4, Name: "Berlin", Address: "Mitte"}}},
		{"live location", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{DegreesLatitude: proto.Float64(1), DegreesLongitude: proto.Float64(2), Caption: proto.String("here")}},
			message.Message{Type: message.TypeLocation, Caption: "here", Location: &message.Location{Latitude: 1, Longitude: 2}}},
		{"contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Carol"), Vcard: proto.String("BEGIN:VCARD")}},
			message.Message{Type: message.TypeContact, Contact: &message.ReceivedContact{Name: "Carol", VCard: "BEGIN:VCARD"}}},
		{"contacts array", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: []*waE2E.ContactMessage{{DisplayName: proto.String("Dan"), Vcard: proto.String("V1")}, {DisplayName: proto.String("Eve")}}}},
			message.Message{Type: message.TypeContact, Contact: &message.ReceivedContact{Name: "Dan", VCard: "V1"}}},
		{"reaction", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("TARGET")}, Text: proto.String("❤")}},
			message.Message{Type: message.TypeReaction, TargetID: "TARGET", Reaction: &message.Reaction{MessageID: "TARGET", Emoji: "❤"}}},
		{"revoke", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{ID: proto.String("TARGET")}}},
			message.Message{Type: message.TypeRevoke, TargetID: "TARGET"}},
		{"edit", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("TARGET")},
			EditedMessage: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("new caption")}}}},
			message.Message{Type: message.TypeEdit, TargetID: "TARGET", Caption: "new caption"}},
		{"key request (unknown)", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_REQUEST.Enum()}}, message.Message{Type: message.TypeUnknown}},
		{"poll (unknown)", &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("?")}}, message.Message{Type: message.TypeUnknown}},
		{"empty", &waE2E.Message{}, message.Message{Type: message.TypeUnknown}},
		{"nil", nil, message.Message{Type: message.TypeUnknown}},
	}
	for _, c := range cases {
		got := Incoming(event(c.msg))
		want := c.want
		want.ID, want.Chat, want.PushName, want.Timestamp = "3EB0ABC", "15550001111@s.whatsapp.net", "Bob", ts.UTC()
		want.Sender = message.Sender{JID: "15550001111@s.whatsapp.net", PhoneNumber: "15550001111", LID: "100000000000042@lid"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", c.name, got, want)
		}
		if got.Timestamp.Location() != time.UTC {
			t.Errorf("%s: timestamp not in UTC", c.name)
		}
	}
}

func TestIncomingGroupAndFromMe(t *testing.T) {
	group := types.NewJID("120363000000000001", types.GroupServer)
	evt := &events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: group, Sender: lid, IsGroup: true, IsFromMe: true},
		ID:            "X",
	}, Message: &waE2E.Message{Conversation: proto.String("hi all")}}
	got := Incoming(evt)
	if got.Chat != "120363000000000001@g.us" || !got.IsGroup || !got.FromMe {
		t.Fatalf("got %+v", got)
	}
	// A LID sender without its phone number: the lookup fills it in.
	if got.Sender != (message.Sender{JID: "100000000000042@lid", LID: "100000000000042@lid"}) {
		t.Fatalf("sender = %+v", got.Sender)
	}
	FillSender(&got.Sender, lid, func(j types.JID) (types.JID, bool) {
		if j != lid {
			t.Fatalf("lookup of %s", j)
		}
		return pn, true
	})
	if got.Sender.PhoneNumber != "15550001111" {
		t.Fatalf("after FillSender: %+v", got.Sender)
	}
	// Complete senders are not looked up; failed lookups change nothing.
	FillSender(&got.Sender, lid, func(types.JID) (types.JID, bool) { t.Fatal("looked up"); return types.JID{}, false })
	s := message.Sender{JID: "15550001111@s.whatsapp.net", PhoneNumber: "15550001111"}
	FillSender(&s, pn, func(types.JID) (types.JID, bool) { return types.JID{}, false })
	if s.LID != "" {
		t.Fatalf("failed lookup filled %+v", s)
	}
}

func TestOutgoingText(t *testing.T) {
	msg, err := Outgoing(message.Outgoing{To: "1555", Text: "plain"}, Extras{})
	if err != nil || msg.GetConversation() != "plain" || msg.ExtendedTextMessage != nil {
		t.Fatalf("plain text = %v, %v", msg, err)
	}
	quoted := &waE2E.Message{Conversation: proto.String("the question")}
	mention := types.NewJID("15550002222", types.DefaultUserServer)
	msg, err = Outgoing(message.Outgoing{To: "1555", Text: "the answer @15550002222"}, Extras{
		Quote:    &Quote{ID: "Q1", Sender: types.JID{User: "15550001111", Server: types.DefaultUserServer, Device: 2}, Message: quoted},
		Mentions: []types.JID{mention},
	})
	if err != nil {
		t.Fatal(err)
	}
	ext := msg.GetExtendedTextMessage()
	ci := ext.GetContextInfo()
	if ext.GetText() != "the answer @15550002222" || ci.GetStanzaID() != "Q1" || ci.GetParticipant() != "15550001111@s.whatsapp.net" ||
		!proto.Equal(ci.GetQuotedMessage(), quoted) || !reflect.DeepEqual(ci.GetMentionedJID(), []string{"15550002222@s.whatsapp.net"}) {
		t.Fatalf("reply with mention = %v", msg)
	}
}

func TestOutgoingKinds(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	key := &waCommon.MessageKey{ID: proto.String("T"), RemoteJID: proto.String("15550001111@s.whatsapp.net")}
	msg, err := Outgoing(message.Outgoing{To: "1", Reaction: &message.Reaction{MessageID: "T", Emoji: "🎉"}}, Extras{ReactionKey: key, Now: now})
	if err != nil || msg.GetReactionMessage().GetText() != "🎉" || msg.GetReactionMessage().GetKey() != key || msg.GetReactionMessage().GetSenderTimestampMS() != now.UnixMilli() {
		t.Fatalf("reaction = %v, %v", msg, err)
	}
	if _, err := Outgoing(message.Outgoing{To: "1", Reaction: &message.Reaction{MessageID: "T"}}, Extras{}); err == nil {
		t.Fatal("reaction without a key was built")
	}
	msg, _ = Outgoing(message.Outgoing{To: "1", Location: &message.Location{Latitude: -33.9, Longitude: 18.4, Name: "Cape Town"}}, Extras{})
	if l := msg.GetLocationMessage(); l.GetDegreesLatitude() != -33.9 || l.GetDegreesLongitude() != 18.4 || l.GetName() != "Cape Town" || l.Address != nil {
		t.Fatalf("location = %v", msg)
	}
	msg, err = Outgoing(message.Outgoing{To: "1", Contact: &message.Contact{Name: "Ann; Lee", PhoneNumber: "+1 555 123 4567"}}, Extras{})
	if err != nil {
		t.Fatal(err)
	}
	want := "BEGIN:VCARD\nVERSION:3.0\nN:;Ann\\; Lee;;;\nFN:Ann\\; Lee\nTEL;type=CELL;type=VOICE;waid=15551234567:+15551234567\nEND:VCARD"
	if c := msg.GetContactMessage(); c.GetDisplayName() != "Ann; Lee" || c.GetVcard() != want {
		t.Fatalf("contact = %q", c.GetVcard())
	}
	if _, err := Outgoing(message.Outgoing{To: "1", Contact: &message.Contact{Name: "A", PhoneNumber: "12"}}, Extras{}); err == nil {
		t.Fatal("contact with a bad number was built")
	}
}

func TestOutgoingMedia(t *testing.T) {
	up := &meow.UploadResponse{URL: "https://mmg/x", DirectPath: "/v/x", MediaKey: []byte{1}, FileEncSHA256: []byte{2}, FileSHA256: []byte{3}, FileLength: 42}
	png := []byte("\x89PNG\r\n\x1a\n0000")
	cases := []struct {
		a     message.Attachment
		check func(*waE2E.Message) bool
	}{
		{message.Attachment{Type: message.TypeImage, Data: png}, func(m *waE2E.Message) bool {
			i := m.GetImageMessage()
			return i.GetMimetype() == "image/png" && i.GetCaption() == "cap" && i.GetDirectPath() == "/v/x" && i.GetFileLength() == 42 && string(i.GetMediaKey()) == "\x01"
		}},
		{message.Attachment{Type: message.TypeVideo, Data: png, MimeType: "video/mp4"}, func(m *waE2E.Message) bool {
			return m.GetVideoMessage().GetMimetype() == "video/mp4" && m.GetVideoMessage().GetCaption() == "cap"
		}},
		{message.Attachment{Type: message.TypeAudio, Data: png, MimeType: "audio/mpeg"}, func(m *waE2E.Message) bool {
			return m.GetAudioMessage().GetMimetype() == "audio/mpeg" && m.GetAudioMessage().GetURL() == "https://mmg/x"
		}},
		{message.Attachment{Type: message.TypeDocument, Data: []byte("%PDF-1.4"), FileName: "a.pdf"}, func(m *waE2E.Message) bool {
			d := m.GetDocumentMessage()
			return d.GetFileName() == "a.pdf" && d.GetMimetype() == "application/pdf" && d.GetCaption() == "cap"
		}},
		{message.Attachment{Type: message.TypeSticker, Data: png}, func(m *waE2E.Message) bool {
			return m.GetStickerMessage().GetMimetype() == "image/webp"
		}},
	}
	for _, c := range cases {
		msg, err := Outgoing(message.Outgoing{To: "1", Text: "cap", Media: &c.a}, Extras{Upload: up})
		if err != nil || !c.check(msg) {
			t.Errorf("%s: %v, %v", c.a.Type, msg, err)
		}
		if kind, err := UploadType(c.a.Type); err != nil || kind == "" {
			t.Errorf("%s: upload type %q, %v", c.a.Type, kind, err)
		}
		if got := Downloadable(msg); got == nil || got.GetDirectPath() != "/v/x" {
			t.Errorf("%s: Downloadable = %v", c.a.Type, got)
		}
	}
	if _, err := Outgoing(message.Outgoing{To: "1", Media: &message.Attachment{Type: message.TypeImage, Data: png}}, Extras{}); err == nil {
		t.Fatal("media without upload was built")
	}
	if Downloadable(&waE2E.Message{Conversation: proto.String("x")}) != nil {
		t.Fatal("a text is downloadable")
	}
}

func TestMentionText(t *testing.T) {
	a := types.NewJID("15550002222", types.DefaultUserServer)
	b := types.NewJID("1555", types.DefaultUserServer)
	for _, c := range []struct{ in, want string }{
		{"", "@15550002222 @1555"},
		{"hi @15550002222", "hi @15550002222 @1555"},
		{"@1555 and @15550002222", "@1555 and @15550002222"},
		{"hi @15550002222x", "hi @15550002222x @1555"}, // @1555 is not in @15550002222
	} {
		if got := MentionText(c.in, []types.JID{a, b}); got != c.want {
			t.Errorf("MentionText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTrimDropsThumbnails(t *testing.T) {
	in := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{JPEGThumbnail: []byte(strings.Repeat("x", 1000)), DirectPath: proto.String("/p")}}
	out := Trim(in)
	if out.GetImageMessage().JPEGThumbnail != nil || out.GetImageMessage().GetDirectPath() != "/p" {
		t.Fatalf("Trim = %v", out)
	}
	if in.GetImageMessage().JPEGThumbnail == nil {
		t.Fatal("Trim changed its input")
	}
}

// TestDeclaredSizeBeyondInt64 reads a file length past int64 as no size, not a negative one.
func TestDeclaredSizeBeyondInt64(t *testing.T) {
	m := Incoming(event(&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileLength: proto.Uint64(1 << 63)}}))
	if m.Media == nil || m.Media.Size != 0 {
		t.Fatalf("media %+v", m.Media)
	}
}

func TestStatus(t *testing.T) {
	contact := types.NewJID("15550002222", types.DefaultUserServer)
	contactLID := types.NewJID("100000000000007", types.HiddenUserServer)
	receipt := func(typ types.ReceiptType, fromMe bool) *events.Receipt {
		return &events.Receipt{
			MessageSource: types.MessageSource{Chat: contact, Sender: contact, SenderAlt: contactLID, IsFromMe: fromMe},
			MessageIDs:    []types.MessageID{"A", "B"}, Type: typ, Timestamp: time.Unix(1795694400, 0),
		}
	}
	for _, c := range []struct {
		typ    types.ReceiptType
		status message.Status
		fromMe bool
	}{
		{types.ReceiptTypeDelivered, message.StatusDelivered, false},
		{types.ReceiptTypeInactive, message.StatusDelivered, false},
		{types.ReceiptTypeRead, message.StatusRead, false},
		{types.ReceiptTypePlayed, message.StatusPlayed, false},
		{types.ReceiptTypeReadSelf, message.StatusRead, true},
		{types.ReceiptTypePlayedSelf, message.StatusPlayed, true},
	} {
		u, ok := Status(receipt(c.typ, c.fromMe))
		want := message.StatusUpdate{Status: c.status, MessageIDs: []string{"A", "B"}, Chat: "15550002222@s.whatsapp.net",
			From: message.Sender{JID: "15550002222@s.whatsapp.net", PhoneNumber: "15550002222", LID: "100000000000007@lid"}, FromMe: c.fromMe, Timestamp: time.Unix(1795694400, 0).UTC()}
		if !ok || !reflect.DeepEqual(u, want) {
			t.Errorf("%q: %+v, %v", c.typ, u, ok)
		}
	}
	for _, typ := range []types.ReceiptType{types.ReceiptTypeRetry, types.ReceiptTypeSender, types.ReceiptTypeServerError, types.ReceiptTypePeerMsg} {
		if u, ok := Status(receipt(typ, false)); ok {
			t.Errorf("%q is a status: %+v", typ, u)
		}
	}
}
