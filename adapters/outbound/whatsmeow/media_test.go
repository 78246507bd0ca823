package whatsmeow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"reflect"
	"testing"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/wasim"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Media from a contact arrives with its metadata; Media downloads its file. Media the
// device sends is uploaded, and the contact decrypts the same bytes.
func TestMedia(t *testing.T) {
	eachDB(t, func(t *testing.T, db *bun.DB) {
		srv := startServer(t)
		c := newClient(t, db, testConfig(srv))
		r := newRecorder()
		id := newID()
		ctx := context.Background()
		const account, contact = "15550501001", "15550501999"
		link := pairQR(t, c, srv, r, id, account)

		received := []struct {
			in   wasim.IncomingMessage
			want message.Message // type, caption and media
		}{
			{wasim.IncomingMessage{Type: "image", Mimetype: "image/png", Caption: "look"},
				message.Message{Type: message.TypeImage, Caption: "look", Media: &message.Media{MimeType: "image/png"}}},
			{wasim.IncomingMessage{Type: "document", FileName: "notes.txt", Mimetype: "text/plain", Caption: "my notes"},
				message.Message{Type: message.TypeDocument, Caption: "my notes", Media: &message.Media{MimeType: "text/plain", FileName: "notes.txt"}}},
			{wasim.IncomingMessage{Type: "video"}, message.Message{Type: message.TypeVideo, Media: &message.Media{MimeType: "video/mp4"}}},
			{wasim.IncomingMessage{Type: "audio"}, message.Message{Type: message.TypeAudio, Media: &message.Media{MimeType: "audio/ogg; codecs=opus"}}},
			{wasim.IncomingMessage{Type: "sticker"}, message.Message{Type: message.TypeSticker, Media: &message.Media{MimeType: "image/webp"}}},
		}
		for i, rc := range received {
			data := randomBytes(1000 + i*40_000)
			in := rc.in
			in.From, in.To, in.Data = contact, account, data
			res, err := srv.SendMessage(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", in.Type, err)
			}
			got := expect[device.SessionMessage](t, r, id).Message
			want := rc.want.Media
			want.Size = int64(len(data))
			if got.ID != res.ID || got.Type != rc.want.Type || got.Caption != rc.want.Caption || got.Media == nil || *got.Media != *want {
				t.Fatalf("%s: got %+v (media %+v), want %+v (media %+v)", in.Type, got, got.Media, rc.want, want)
			}
			file, meta := download(t, c, id, message.MediaRef{MessageID: got.ID})
			if !bytes.Equal(file, data) || meta != *want {
				t.Fatalf("%s: downloaded %d bytes (%+v), want the %d sent (%+v)", in.Type, len(file), meta, len(data), want)
			}
		}

		// Other kinds from a contact: replies, mentions, location, contact card, reaction.
		first, err := srv.SendText(ctx, wasim.TextMessage{From: contact, To: account, Text: "first"})
		if err != nil {
			t.Fatal(err)
		}
		expect[device.SessionMessage](t, r, id)
		others := []struct {
			in   wasim.IncomingMessage
			want message.Message
		}{
			{wasim.IncomingMessage{Text: "re @15550501888", QuotedID: first.ID, Mentions: []string{"15550501888"}},
				message.Message{Type: message.TypeText, Text: "re @15550501888", QuotedID: first.ID, Mentions: []string{"15550501888@s.whatsapp.net"}}},
			{wasim.IncomingMessage{Type: "location", Location: &wasim.Location{Latitude: 48.85, Longitude: 2.35, Name: "Paris"}},
				message.Message{Type: message.TypeLocation, Location: &message.Location{Latitude: 48.85, Longitude: 2.35, Name: "Paris"}}},
			{wasim.IncomingMessage{Type: "contact", Contact: &wasim.Contact{DisplayName: "Dan", VCard: "BEGIN:VCARD\nFN:Dan\nEND:VCARD"}},
				message.Message{Type: message.TypeContact, Contact: &message.ReceivedContact{Name: "Dan", VCard: "BEGIN:VCARD\nFN:Dan\nEND:VCARD"}}},
			{wasim.IncomingMessage{Type: "reaction", TargetID: first.ID, Emoji: "😂"},
				message.Message{Type: message.TypeReaction, Reaction: &message.Reaction{MessageID: first.ID, Emoji: "😂"}}},
		}
		for _, o := range others {
			in := o.in
			in.From, in.To = contact, account
			res, err := srv.SendMessage(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", in.Type, err)
			}
			got := expect[device.SessionMessage](t, r, id).Message
			want := o.want
			want.ID, want.Chat, want.Sender, want.Timestamp = res.ID, got.Chat, got.Sender, got.Timestamp
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got  %+v\n want %+v", in.Type, got, want)
			}
			if _, err := c.Media(ctx, id, message.MediaRef{MessageID: got.ID}); domain.KindOf(err) != domain.KindNotFound {
				t.Fatalf("%s: Media of a message without a file: %v, want not found", in.Type, err)
			}
		}
		if _, err := c.Media(ctx, id, message.MediaRef{MessageID: "3EB0NOSUCHMESSAGE"}); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Media of an unknown message: %v, want not found", err)
		}

		// Sending: every kind of attachment is uploaded, and decrypts to the same bytes.
		png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(5000)...)
		sends := []struct {
			att  message.Attachment
			text string
			want wasim.SentMessage // type, caption, mimetype, file name
		}{
			{message.Attachment{Type: message.TypeImage, Data: png}, "a picture", wasim.SentMessage{Type: "image", Caption: "a picture", Mimetype: "image/png"}},
			{message.Attachment{Type: message.TypeDocument, Data: []byte("%PDF-1.4 fake"), FileName: "invoice.pdf"}, "your invoice",
				wasim.SentMessage{Type: "document", Caption: "your invoice", Mimetype: "application/pdf", FileName: "invoice.pdf"}},
			{message.Attachment{Type: message.TypeVideo, Data: randomBytes(70_000), MimeType: "video/mp4"}, "", wasim.SentMessage{Type: "video", Mimetype: "video/mp4"}},
			{message.Attachment{Type: message.TypeAudio, Data: randomBytes(3000), MimeType: "audio/ogg; codecs=opus"}, "", wasim.SentMessage{Type: "audio", Mimetype: "audio/ogg; codecs=opus"}},
			{message.Attachment{Type: message.TypeSticker, Data: randomBytes(800)}, "", wasim.SentMessage{Type: "sticker", Mimetype: "image/webp"}},
		}
		for _, s := range sends {
			rc, err := c.Send(ctx, id, message.Outgoing{To: contact, Text: s.text, Media: &s.att})
			if err != nil {
				t.Fatalf("send %s: %v", s.att.Type, err)
			}
			sent, err := srv.Sent(account)
			if err != nil || len(sent) == 0 {
				t.Fatalf("Sent: %v", err)
			}
			m := sent[len(sent)-1]
			sum := sha256.Sum256(s.att.Data)
			want := s.want
			want.ID, want.From, want.FromDevice, want.To, want.Timestamp = rc.ID, account, m.FromDevice, contact, m.Timestamp
			want.FileLength, want.SHA256 = uint64(len(s.att.Data)), hex.EncodeToString(sum[:])
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("send %s: the contact got\n %+v\nwant\n %+v", s.att.Type, m, want)
			}
			file, err := srv.Media(rc.ID)
			if err != nil || !bytes.Equal(file.Data, s.att.Data) {
				t.Fatalf("send %s: the contact's file: %d bytes, %v", s.att.Type, len(file.Data), err)
			}
			// A file the device sent can be downloaded again too.
			data, meta := download(t, c, id, message.MediaRef{MessageID: rc.ID})
			if !bytes.Equal(data, s.att.Data) || meta.MimeType != want.Mimetype || meta.Size != int64(len(data)) {
				t.Fatalf("send %s: Media gave %d bytes, %+v", s.att.Type, len(data), meta)
			}
		}

		// Downloads need the connection; Remove forgets the files.
		if err := c.Disconnect(ctx, id); err != nil {
			t.Fatal(err)
		}
		sentAll, err := srv.Sent(account)
		if err != nil {
			t.Fatal(err)
		}
		mediaID := sentAll[len(sentAll)-1].ID // the sticker, kept when it was sent
		if _, err := c.Media(ctx, id, message.MediaRef{MessageID: mediaID}); domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("Media while disconnected: %v, want conflict", err)
		}
		if err := c.Remove(ctx, device.Session{DeviceID: id, JID: link.JID}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Media(ctx, id, message.MediaRef{MessageID: mediaID}); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Media after Remove: %v, want not found", err)
		}
	})
}

// download reads the file ref names through Media, checks that the size given is the
// size read, and closes it.
func download(t testing.TB, c *Client, id device.ID, ref message.MediaRef) ([]byte, message.Media) {
	t.Helper()
	f, err := c.Media(context.Background(), id, ref)
	if err != nil {
		t.Fatalf("Media %+v: %v", ref, err)
	}
	data, err := io.ReadAll(f.Content)
	if cerr := f.Content.Close(); err != nil || cerr != nil {
		t.Fatalf("Media %+v: read: %v, close: %v", ref, err, cerr)
	}
	if int64(len(data)) != f.Size || f.Media.Size != f.Size {
		t.Fatalf("Media %+v: read %d bytes, Size %d, Media.Size %d", ref, len(data), f.Size, f.Media.Size)
	}
	return data, f.Media
}
