package whatsmeow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
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
		r := newRecorder(db)
		id := newID()
		ctx := context.Background()
		const account, contact = "15550501001", "15550501999"
		pairQR(t, c, srv, r, id, account)

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
				message.Message{Type: message.TypeReaction, TargetID: first.ID, Reaction: &message.Reaction{MessageID: first.ID, Emoji: "😂"}}},
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

		// Downloads need the connection.
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

// A media file is downloaded up to MediaMaxBytes, whatever size its message declares: the
// size given is the file's, a larger file is refused whole, and the temporary file is
// gone once closed (or at once, when refused).
func TestMediaSizeIsTheFilesAndBounded(t *testing.T) {
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	cfg := testConfig(srv)
	cfg.MediaMaxBytes = 10_000
	c, r, id, ctx := newClient(t, db, cfg), newRecorder(db), newID(), context.Background()
	const account, contact = "15550701001", "15550701002"
	pairQR(t, c, srv, r, id, account)
	sender := types.NewJID(contact, types.DefaultUserServer)

	// receive has the contact send data as an image, and returns its id and message.
	receive := func(data []byte) (string, *waE2E.Message) {
		t.Helper()
		res, err := srv.SendMessage(ctx, wasim.IncomingMessage{From: contact, To: account, Type: "image", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		expect[device.SessionMessage](t, r, id)
		kept, err := c.keptIn(ctx, id, sender, res.ID)
		if err != nil || kept == nil {
			t.Fatalf("image not kept: %v", err)
		}
		return res.ID, kept.Message
	}
	// lie has the contact send the same file again, declaring declared bytes.
	lie := func(msgID string, m *waE2E.Message, declared uint64) {
		t.Helper()
		m = proto.Clone(m).(*waE2E.Message)
		m.ImageMessage.FileLength = proto.Uint64(declared)
		c.session(id).onEvent(&events.Message{
			Info:    types.MessageInfo{MessageSource: types.MessageSource{Chat: sender, Sender: sender}, ID: msgID, Timestamp: time.Now()},
			Message: m,
		})
		if got := expect[device.SessionMessage](t, r, id).Message; got.Media == nil || got.Media.Size != int64(declared) {
			t.Fatalf("reported %+v, want an image declaring %d bytes", got, declared)
		}
	}

	// At the limit: served, with its real size even when the sender declared another.
	atLimit := randomBytes(int(cfg.MediaMaxBytes))
	okID, okMsg := receive(atLimit)
	lie("3EB0DECLARES7BYTES", okMsg, 7)
	for _, msgID := range []string{okID, "3EB0DECLARES7BYTES"} {
		f, err := c.Media(ctx, id, message.MediaRef{MessageID: msgID})
		if err != nil {
			t.Fatalf("Media: %v", err)
		}
		if f.Size != cfg.MediaMaxBytes || f.Media.Size != f.Size {
			t.Fatalf("Media of %s: Size %d, Media.Size %d, want the file's %d", msgID, f.Size, f.Media.Size, len(atLimit))
		}
		// An unlinked temporary file while open, nothing once closed.
		if spooled := mediaTempFiles(t); len(spooled) != 1 || !strings.HasSuffix(spooled[0], " (deleted)") {
			t.Fatalf("while open, the temporary files are %q, want one, already unlinked", spooled)
		}
		data, err := io.ReadAll(f.Content)
		if err != nil || !bytes.Equal(data, atLimit) {
			t.Fatalf("read %d bytes, %v", len(data), err)
		}
		if err := f.Content.Close(); err != nil {
			t.Fatal(err)
		}
		if spooled := mediaTempFiles(t); len(spooled) != 0 {
			t.Fatalf("after Close, temporary files are still open: %q", spooled)
		}
	}

	// Over the limit: refused, also when the sender declares it small. One byte over
	// still downloads whole (the encrypted file is padded), twice the limit stops midway.
	overID, overMsg := receive(randomBytes(int(cfg.MediaMaxBytes) + 1))
	lie("3EB0OVERDECLARES100", overMsg, 100)
	twiceID, _ := receive(randomBytes(2 * int(cfg.MediaMaxBytes)))
	for _, msgID := range []string{overID, "3EB0OVERDECLARES100", twiceID} {
		_, err := c.Media(ctx, id, message.MediaRef{MessageID: msgID})
		wantKind(t, err, domain.KindInvalid, "Media of a file over the limit")
		if !strings.Contains(domain.MessageOf(err), "MEDIA_MAX_BYTES") {
			t.Fatalf("Media of a file over the limit: %q does not name the limit", domain.MessageOf(err))
		}
		if spooled := mediaTempFiles(t); len(spooled) != 0 {
			t.Fatalf("after a refused download, temporary files are still open: %q", spooled)
		}
	}
}

// mediaTempFiles lists the temporary media files the process has open (Linux).
func mediaTempFiles(t testing.TB) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, "wagate-media-") {
			out = append(out, target)
		}
	}
	return out
}

// The file whatsmeow downloads into stops growing at its bound, whichever way it is
// written: io.Copy (as whatsmeow writes), WriteAt, Truncate.
func TestBoundedFileStopsAtItsBound(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "bounded")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &boundedFile{File: f, max: 100}
	if n, err := io.Copy(b, io.LimitReader(rand.Reader, 1000)); !errors.Is(err, errFileTooLarge) || n > 100 {
		t.Fatalf("io.Copy of 1000 bytes wrote %d: %v", n, err)
	}
	if _, err := b.WriteAt([]byte("x"), 100); !errors.Is(err, errFileTooLarge) {
		t.Fatalf("WriteAt past the bound: %v", err)
	}
	if err := b.Truncate(101); !errors.Is(err, errFileTooLarge) {
		t.Fatalf("Truncate past the bound: %v", err)
	}
	if st, err := f.Stat(); err != nil || st.Size() > 100 {
		t.Fatalf("the file grew to %d bytes (%v)", st.Size(), err)
	}
	// Within the bound it is a file: what is written reads back, Seek is consistent.
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	if pos, err := b.Seek(-5, io.SeekCurrent); err != nil || pos != 6 {
		t.Fatalf("Seek(-5, current) = %d, %v; want 6", pos, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "world" {
		t.Fatalf("read %q, %v", got, err)
	}
}
