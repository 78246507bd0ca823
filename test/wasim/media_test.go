package wasim_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

func randomData(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sentByID returns the entry of the account's sent log with id.
func sentByID(t testing.TB, srv *wasim.Server, account, id string) wasim.SentMessage {
	t.Helper()
	sent, err := srv.Sent(account)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sent {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s not in the sent log of %s: %+v", id, account, sent)
	return wasim.SentMessage{}
}

// Every attachment kind a client uploads and sends is downloaded and
// decrypted by the simulator, which keeps the plaintext.
func TestUploadAndSendMedia(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550030001", "15550030999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()
	to := types.NewJID(contact, types.DefaultUserServer)

	cases := []struct {
		kind     string
		appInfo  whatsmeow.MediaType
		size     int
		mimetype string
		build    func(up whatsmeow.UploadResponse, mimetype string) *waE2E.Message
		caption  string
		fileName string
	}{
		{"image", whatsmeow.MediaImage, 70_000, "image/png", func(up whatsmeow.UploadResponse, mt string) *waE2E.Message {
			return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				Caption: proto.String("a picture"), Mimetype: proto.String(mt),
				URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			}}
		}, "a picture", ""},
		{"document", whatsmeow.MediaDocument, 16, "application/pdf", func(up whatsmeow.UploadResponse, mt string) *waE2E.Message {
			return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				FileName: proto.String("report.pdf"), Caption: proto.String("the report"), Mimetype: proto.String(mt),
				URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			}}
		}, "the report", "report.pdf"},
		{"video", whatsmeow.MediaVideo, 100_001, "video/mp4", func(up whatsmeow.UploadResponse, mt string) *waE2E.Message {
			return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
				Mimetype: proto.String(mt),
				URL:      &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			}}
		}, "", ""},
		{"audio", whatsmeow.MediaAudio, 3_000, "audio/ogg; codecs=opus", func(up whatsmeow.UploadResponse, mt string) *waE2E.Message {
			return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
				PTT: proto.Bool(true), Mimetype: proto.String(mt),
				URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			}}
		}, "", ""},
		{"sticker", whatsmeow.MediaImage, 900, "image/webp", func(up whatsmeow.UploadResponse, mt string) *waE2E.Message {
			return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
				Mimetype: proto.String(mt),
				URL:      &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
			}}
		}, "", ""},
	}
	for _, c := range cases {
		data := randomData(t, c.size)
		up, err := tc.cli.Upload(ctx, data, c.appInfo)
		if err != nil {
			t.Fatalf("%s: Upload: %v", c.kind, err)
		}
		if !strings.HasPrefix(up.DirectPath, "/v/") || !strings.HasPrefix(up.URL, "https://"+wasim.MediaHost+"/") {
			t.Fatalf("%s: upload response %+v", c.kind, up)
		}
		resp, err := tc.cli.SendMessage(ctx, to, c.build(up, c.mimetype))
		if err != nil {
			t.Fatalf("%s: SendMessage: %v", c.kind, err)
		}
		// The log is written before the ack SendMessage waits for.
		got := sentByID(t, srv, account, resp.ID)
		if got.Error != "" || got.MediaError != "" {
			t.Fatalf("%s: sent = %+v", c.kind, got)
		}
		if got.Type != c.kind || got.Mimetype != c.mimetype || got.Caption != c.caption || got.FileName != c.fileName ||
			got.FileLength != uint64(c.size) || got.SHA256 != sha256Hex(data) || got.Text != "" || got.To != contact {
			t.Fatalf("%s: sent = %+v, want sha256 %s", c.kind, got, sha256Hex(data))
		}
		f, err := srv.Media(resp.ID)
		if err != nil {
			t.Fatalf("%s: Media: %v", c.kind, err)
		}
		if !bytes.Equal(f.Data, data) || f.Mimetype != c.mimetype || f.FileName != c.fileName {
			t.Fatalf("%s: Media = %d bytes %q %q, want %d bytes", c.kind, len(f.Data), f.Mimetype, f.FileName, len(data))
		}
	}
	if _, err := srv.Media("3EB0UNKNOWN"); wasim.ErrorCode(err) != "unknown_media" {
		t.Fatalf("Media(unknown) error = %v", err)
	}
}

// A message whose attachment the recipient could not open is still
// delivered, with the reason in MediaError.
func TestSendMediaProblemsAreReported(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550031001", "15550031999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()
	to := types.NewJID(contact, types.DefaultUserServer)
	data := randomData(t, 5000)
	up, err := tc.cli.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	image := func(mutate func(m *waE2E.ImageMessage)) *waE2E.Message {
		m := &waE2E.ImageMessage{
			Mimetype: proto.String("image/jpeg"), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		}
		mutate(m)
		return &waE2E.Message{ImageMessage: m}
	}
	cases := []struct {
		name      string
		msg       *waE2E.Message
		wantError string
		decrypted bool
	}{
		{"wrong media key", image(func(m *waE2E.ImageMessage) { m.MediaKey = randomData(t, 32) }), "MAC mismatch", false},
		{"unchanged", image(func(m *waE2E.ImageMessage) {}), "", true},
		{"wrong file sha256", image(func(m *waE2E.ImageMessage) { m.FileSHA256 = make([]byte, 32) }), "fileSha256", true},
		{"wrong length", image(func(m *waE2E.ImageMessage) { m.FileLength = proto.Uint64(1) }), "fileLength", true},
		{"never uploaded", image(func(m *waE2E.ImageMessage) { m.DirectPath = proto.String("/v/t62.7118-24/0000.enc?ccb=11-4") }), "not uploaded", false},
		{"no direct path", image(func(m *waE2E.ImageMessage) { m.DirectPath = nil }), "no directPath", false},
	}
	for _, c := range cases {
		resp, err := tc.cli.SendMessage(ctx, to, c.msg)
		if err != nil {
			t.Fatalf("%s: SendMessage: %v", c.name, err)
		}
		got := sentByID(t, srv, account, resp.ID)
		if got.Type != "image" || got.Error != "" || !strings.Contains(got.MediaError, c.wantError) || (c.wantError == "") != (got.MediaError == "") {
			t.Fatalf("%s: sent = %+v, want media error containing %q", c.name, got, c.wantError)
		}
		if (got.SHA256 == sha256Hex(data)) != c.decrypted {
			t.Fatalf("%s: sha256 = %q, decrypted = %v", c.name, got.SHA256, c.decrypted)
		}
	}

	// The same bytes uploaded with the document key derivation cannot be
	// opened as an image.
	upDoc, err := tc.cli.Upload(ctx, data, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tc.cli.SendMessage(ctx, to, image(func(m *waE2E.ImageMessage) {
		m.DirectPath, m.MediaKey, m.FileEncSHA256 = proto.String(upDoc.DirectPath), upDoc.MediaKey, upDoc.FileEncSHA256
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := sentByID(t, srv, account, resp.ID); !strings.Contains(got.MediaError, "MAC mismatch") {
		t.Fatalf("document sent as image: %+v", got)
	}
}

// Locations, contact cards, reactions, replies with mentions, edits and
// deletions are recorded with their content.
func TestSendOtherKinds(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550032001", "15550032999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()
	to := types.NewJID(contact, types.DefaultUserServer)
	in, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "what's up"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Message](t, tc.recorder)
	send := func(msg *waE2E.Message) wasim.SentMessage {
		t.Helper()
		resp, err := tc.cli.SendMessage(ctx, to, msg)
		if err != nil {
			t.Fatal(err)
		}
		got := sentByID(t, srv, account, resp.ID)
		if got.Error != "" {
			t.Fatalf("sent = %+v", got)
		}
		return got
	}

	loc := send(&waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(52.52), DegreesLongitude: proto.Float64(-13.405), Name: proto.String("Alexanderplatz"), Address: proto.String("Berlin"),
	}})
	if loc.Type != "location" || loc.Location == nil || *loc.Location != (wasim.Location{Latitude: 52.52, Longitude: -13.405, Name: "Alexanderplatz", Address: "Berlin"}) {
		t.Fatalf("location = %+v %+v", loc, loc.Location)
	}

	const vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Frank\nTEL;type=CELL;waid=15550032777:+1 555 003 2777\nEND:VCARD"
	card := send(&waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Frank"), Vcard: proto.String(vcard)}})
	if card.Type != "contact" || card.Contact == nil || card.Contact.DisplayName != "Frank" || card.Contact.VCard != vcard {
		t.Fatalf("contact = %+v %+v", card, card.Contact)
	}

	reaction := send(tc.cli.BuildReaction(to, to, in.ID, "👍"))
	if reaction.Type != "reaction" || reaction.TargetID != in.ID || reaction.Emoji != "👍" {
		t.Fatalf("reaction = %+v", reaction)
	}
	unreact := send(tc.cli.BuildReaction(to, to, in.ID, ""))
	if unreact.Type != "reaction" || unreact.TargetID != in.ID || unreact.Emoji != "" {
		t.Fatalf("reaction removal = %+v", unreact)
	}

	mention := types.NewJID("15550032888", types.DefaultUserServer).String()
	reply := send(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
		Text: proto.String("@15550032888 see above"),
		ContextInfo: &waE2E.ContextInfo{
			StanzaID: proto.String(in.ID), Participant: proto.String(to.String()),
			QuotedMessage: &waE2E.Message{Conversation: proto.String("what's up")},
			MentionedJID:  []string{mention},
		},
	}})
	if reply.Type != "text" || reply.Text != "@15550032888 see above" || reply.QuotedID != in.ID || len(reply.Mentions) != 1 || reply.Mentions[0] != mention {
		t.Fatalf("reply = %+v", reply)
	}

	edit := send(tc.cli.BuildEdit(to, reply.ID, &waE2E.Message{Conversation: proto.String("edited text")}))
	if edit.Type != "edit" || edit.TargetID != reply.ID || edit.Text != "edited text" {
		t.Fatalf("edit = %+v", edit)
	}
	revoke := send(tc.cli.BuildRevoke(to, types.EmptyJID, reply.ID))
	if revoke.Type != "revoke" || revoke.TargetID != reply.ID {
		t.Fatalf("revoke = %+v", revoke)
	}
}

// Attachments from contacts are downloaded by whatsmeow's Download from the
// simulator's media host.
func TestIncomingMediaDownloads(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550033001", "15550033999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()

	cases := []struct {
		msg      wasim.IncomingMessage
		mimetype string // expected, with defaults applied
		get      func(*waE2E.Message) whatsmeow.DownloadableMessage
	}{
		{wasim.IncomingMessage{Type: "image", Mimetype: "image/png", Caption: "look"}, "image/png",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetImageMessage() }},
		{wasim.IncomingMessage{Type: "document", FileName: "notes.txt", Mimetype: "text/plain", Caption: "my notes"}, "text/plain",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetDocumentMessage() }},
		{wasim.IncomingMessage{Type: "document", FileName: "raw.bin"}, "application/octet-stream",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetDocumentMessage() }},
		{wasim.IncomingMessage{Type: "video", Caption: "clip"}, "video/mp4",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetVideoMessage() }},
		{wasim.IncomingMessage{Type: "audio"}, "audio/ogg; codecs=opus",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetAudioMessage() }},
		{wasim.IncomingMessage{Type: "sticker"}, "image/webp",
			func(m *waE2E.Message) whatsmeow.DownloadableMessage { return m.GetStickerMessage() }},
	}
	for i, c := range cases {
		data := randomData(t, 1000+i*4099)
		req := c.msg
		req.From, req.To, req.Data, req.PushName = contact, account, data, "Grace"
		res, err := srv.SendMessage(ctx, req)
		if err != nil {
			t.Fatalf("%s: SendMessage: %v", req.Type, err)
		}
		evt := waitFor[*events.Message](t, tc.recorder)
		if evt.Info.ID != res.ID || evt.Info.Type != "media" || evt.Info.Sender.User != contact || evt.Info.PushName != "Grace" {
			t.Fatalf("%s: info = %+v", req.Type, evt.Info)
		}
		att := c.get(evt.Message)
		if att == nil {
			t.Fatalf("%s: no attachment in %v", req.Type, evt.Message)
		}
		got, err := tc.cli.Download(ctx, att)
		if err != nil {
			t.Fatalf("%s: Download: %v", req.Type, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: downloaded %d bytes, not the %d sent", req.Type, len(got), len(data))
		}
		m := evt.Message
		switch req.Type {
		case "image":
			if m.GetImageMessage().GetCaption() != "look" || m.GetImageMessage().GetMimetype() != c.mimetype || m.GetImageMessage().GetFileLength() != uint64(len(data)) {
				t.Fatalf("image = %v", m.GetImageMessage())
			}
		case "document":
			d := m.GetDocumentMessage()
			if d.GetFileName() != req.FileName || d.GetMimetype() != c.mimetype || d.GetCaption() != req.Caption {
				t.Fatalf("document = %v", d)
			}
			// WhatsApp wraps documents with a caption; whatsmeow unwraps them.
			if evt.IsDocumentWithCaption != (req.Caption != "") {
				t.Fatalf("document IsDocumentWithCaption = %v for caption %q", evt.IsDocumentWithCaption, req.Caption)
			}
		case "video":
			if m.GetVideoMessage().GetCaption() != "clip" || m.GetVideoMessage().GetMimetype() != c.mimetype {
				t.Fatalf("video = %v", m.GetVideoMessage())
			}
		case "audio":
			if m.GetAudioMessage().GetMimetype() != c.mimetype {
				t.Fatalf("audio = %v", m.GetAudioMessage())
			}
		case "sticker":
			if m.GetStickerMessage().GetMimetype() != c.mimetype {
				t.Fatalf("sticker = %v", m.GetStickerMessage())
			}
		}
	}
}

// Contacts reply (quoting the account's message or their own), mention,
// share locations and contact cards, and react.
func TestIncomingRepliesAndOtherKinds(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550034001", "15550034999"
	tc := pairQR(t, srv, account)
	ctx := t.Context()
	accountJID := types.NewJID(account, types.DefaultUserServer)
	contactJID := types.NewJID(contact, types.DefaultUserServer)

	first, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Message](t, tc.recorder)
	out, err := tc.cli.SendMessage(ctx, contactJID, &waE2E.Message{Conversation: proto.String("from the account")})
	if err != nil {
		t.Fatal(err)
	}
	send := func(req wasim.IncomingMessage) *events.Message {
		t.Helper()
		req.From, req.To = contact, account
		res, err := srv.SendMessage(ctx, req)
		if err != nil {
			t.Fatalf("SendMessage(%+v): %v", req, err)
		}
		evt := waitFor[*events.Message](t, tc.recorder)
		if evt.Info.ID != res.ID {
			t.Fatalf("got message %s, want %s", evt.Info.ID, res.ID)
		}
		return evt
	}

	// A reply to the account's message names the account as the author.
	evt := send(wasim.IncomingMessage{Text: "replying to you @15550034888", QuotedID: out.ID, Mentions: []string{"+15550034888"}})
	ci := evt.Message.GetExtendedTextMessage().GetContextInfo()
	if evt.Message.GetExtendedTextMessage().GetText() != "replying to you @15550034888" || ci.GetStanzaID() != out.ID || ci.GetParticipant() != accountJID.String() ||
		len(ci.GetMentionedJID()) != 1 || ci.GetMentionedJID()[0] != "15550034888@s.whatsapp.net" {
		t.Fatalf("reply = %v", evt.Message)
	}
	// A reply to the contact's own message names the contact.
	evt = send(wasim.IncomingMessage{Type: "image", Data: randomData(t, 300), QuotedID: first.ID})
	if ci := evt.Message.GetImageMessage().GetContextInfo(); ci.GetStanzaID() != first.ID || ci.GetParticipant() != contactJID.String() {
		t.Fatalf("image reply context = %v", ci)
	}

	evt = send(wasim.IncomingMessage{Type: "location", Location: &wasim.Location{Latitude: -33.8568, Longitude: 151.2153, Name: "Opera House"}})
	if l := evt.Message.GetLocationMessage(); l.GetDegreesLatitude() != -33.8568 || l.GetDegreesLongitude() != 151.2153 || l.GetName() != "Opera House" {
		t.Fatalf("location = %v", evt.Message)
	}

	evt = send(wasim.IncomingMessage{Type: "contact", Contact: &wasim.Contact{DisplayName: "Heidi"}})
	if c := evt.Message.GetContactMessage(); c.GetDisplayName() != "Heidi" || !strings.Contains(c.GetVcard(), "FN:Heidi") || evt.Info.MediaType != "vcard" {
		t.Fatalf("contact = %v (media type %q)", evt.Message, evt.Info.MediaType)
	}

	evt = send(wasim.IncomingMessage{Type: "reaction", TargetID: out.ID, Emoji: "❤️"})
	if r := evt.Message.GetReactionMessage(); r.GetText() != "❤️" || r.GetKey().GetID() != out.ID || r.GetKey().GetFromMe() || evt.Info.Type != "reaction" {
		t.Fatalf("reaction = %v (type %q)", evt.Message, evt.Info.Type)
	}
}

func TestSendMessageErrors(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550035001", "15550035999"
	pairQR(t, srv, account)
	cases := []struct {
		msg  wasim.IncomingMessage
		code string
	}{
		{wasim.IncomingMessage{Type: "gif", Data: []byte{1}}, "invalid_message"},
		{wasim.IncomingMessage{Type: "image"}, "invalid_message"},
		{wasim.IncomingMessage{Text: "x", Data: []byte{1}}, "invalid_message"},
		{wasim.IncomingMessage{Type: "audio", Data: []byte{1}, Caption: "no captions on audio"}, "invalid_message"},
		{wasim.IncomingMessage{Type: "image", Data: []byte{1}, FileName: "only documents"}, "invalid_message"},
		{wasim.IncomingMessage{Type: "location", Location: &wasim.Location{Latitude: 91}}, "invalid_message"},
		{wasim.IncomingMessage{Type: "location"}, "invalid_message"},
		{wasim.IncomingMessage{Type: "contact", Contact: &wasim.Contact{VCard: "BEGIN:VCARD"}}, "invalid_message"},
		{wasim.IncomingMessage{Type: "reaction", Emoji: "👍"}, "invalid_message"},
		{wasim.IncomingMessage{Type: "reaction", TargetID: "x", QuotedID: "y"}, "invalid_message"},
		{wasim.IncomingMessage{Text: "x", Mentions: []string{"nope"}}, "invalid_message"},
		{wasim.IncomingMessage{Text: "\xff"}, "invalid_message"},
	}
	for _, c := range cases {
		c.msg.From, c.msg.To = contact, account
		if _, err := srv.SendMessage(t.Context(), c.msg); wasim.ErrorCode(err) != c.code {
			t.Errorf("SendMessage(%+v) error = %v, want %s", c.msg, err, c.code)
		}
	}
	big := wasim.IncomingMessage{From: contact, To: account, Type: "document", Data: make([]byte, 64<<20+1)}
	if _, err := srv.SendMessage(t.Context(), big); wasim.ErrorCode(err) != "too_large" {
		t.Errorf("SendMessage(65 MiB) error = %v, want too_large", err)
	}
}
