package msgconv

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain/message"
)

// Quote is the message a reply quotes. Message may be nil when the quoted message is no
// longer known: WhatsApp then shows the reply without the quoted content.
type Quote struct {
	ID      string
	Sender  types.JID // who wrote the quoted message
	Message *waE2E.Message
}

// Extras is what an outgoing message needs beyond o itself.
type Extras struct {
	Quote       *Quote
	Mentions    []types.JID
	Upload      *meow.UploadResponse // the uploaded file of o.Media
	ReactionKey *waCommon.MessageKey // the message o.Reaction reacts to
	Now         time.Time
}

// UploadType is the kind of upload whatsmeow needs for media of type t (its keys depend
// on it).
func UploadType(t message.Type) (meow.MediaType, error) {
	switch t {
	case message.TypeImage, message.TypeSticker:
		return meow.MediaImage, nil
	case message.TypeVideo:
		return meow.MediaVideo, nil
	case message.TypeAudio:
		return meow.MediaAudio, nil
	case message.TypeDocument:
		return meow.MediaDocument, nil
	}
	return "", fmt.Errorf("media type %q cannot be sent", t)
}

// Outgoing builds the WhatsApp message for o. o has passed Validate; Mentions are
// resolved to JIDs in x.Mentions and the text names each as @user (see MentionText).
func Outgoing(o message.Outgoing, x Extras) (*waE2E.Message, error) {
	ctx := contextInfo(x)
	switch {
	case o.Reaction != nil:
		if x.ReactionKey == nil {
			return nil, fmt.Errorf("reaction without the key of its message")
		}
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key:               x.ReactionKey,
			Text:              proto.String(o.Reaction.Emoji),
			SenderTimestampMS: proto.Int64(x.Now.UnixMilli()),
		}}, nil
	case o.Location != nil:
		l := o.Location
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude:  proto.Float64(l.Latitude),
			DegreesLongitude: proto.Float64(l.Longitude),
			Name:             optional(l.Name),
			Address:          optional(l.Address),
			ContextInfo:      ctx,
		}}, nil
	case o.Contact != nil:
		vcard, err := VCard(o.Contact.Name, o.Contact.PhoneNumber)
		if err != nil {
			return nil, err
		}
		return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
			DisplayName: proto.String(o.Contact.Name),
			Vcard:       proto.String(vcard),
			ContextInfo: ctx,
		}}, nil
	case o.Media != nil:
		return media(o, x.Upload, ctx)
	case ctx != nil:
		return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(o.Text), ContextInfo: ctx}}, nil
	default:
		return &waE2E.Message{Conversation: proto.String(o.Text)}, nil
	}
}

func contextInfo(x Extras) *waE2E.ContextInfo {
	if x.Quote == nil && len(x.Mentions) == 0 {
		return nil
	}
	ctx := &waE2E.ContextInfo{}
	if q := x.Quote; q != nil {
		ctx.StanzaID = proto.String(q.ID)
		if !q.Sender.IsEmpty() {
			ctx.Participant = proto.String(q.Sender.ToNonAD().String())
		}
		ctx.QuotedMessage = q.Message
	}
	for _, j := range x.Mentions {
		ctx.MentionedJID = append(ctx.MentionedJID, j.ToNonAD().String())
	}
	return ctx
}

func media(o message.Outgoing, up *meow.UploadResponse, ctx *waE2E.ContextInfo) (*waE2E.Message, error) {
	if up == nil {
		return nil, fmt.Errorf("media message without its upload")
	}
	a := o.Media
	mime := a.MimeType
	if mime == "" {
		mime = DetectMimeType(a)
	}
	caption := optional(o.Text)
	switch a.Type {
	case message.TypeImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, Mimetype: &mime, Caption: caption, ContextInfo: ctx,
		}}, nil
	case message.TypeVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, Mimetype: &mime, Caption: caption, ContextInfo: ctx,
		}}, nil
	case message.TypeAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, Mimetype: &mime, ContextInfo: ctx,
		}}, nil
	case message.TypeDocument:
		name := a.FileName
		if name == "" {
			name = "file"
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, Mimetype: &mime, Caption: caption,
			FileName: &name, Title: &name, ContextInfo: ctx,
		}}, nil
	case message.TypeSticker:
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, Mimetype: &mime, ContextInfo: ctx,
		}}, nil
	}
	return nil, fmt.Errorf("media type %q cannot be sent", a.Type)
}

// DetectMimeType guesses the MIME type of an attachment that came without one.
func DetectMimeType(a *message.Attachment) string {
	if a.Type == message.TypeSticker {
		return "image/webp"
	}
	mime := http.DetectContentType(a.Data)
	if i := strings.IndexByte(mime, ';'); i >= 0 && !strings.HasPrefix(mime, "text/") {
		mime = mime[:i]
	}
	return mime
}

// MentionText returns text naming each mentioned user as @user, as WhatsApp shows
// mentions: the ones text does not name yet are appended.
func MentionText(text string, mentions []types.JID) string {
	for _, j := range mentions {
		tag := "@" + j.User
		if !containsWord(text, tag) {
			if text != "" {
				text += " "
			}
			text += tag
		}
	}
	return text
}

// containsWord reports whether tag occurs in text not followed by another digit (so that
// @1555 is not found in @15551234).
func containsWord(text, tag string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], tag)
		if j < 0 {
			return false
		}
		end := i + j + len(tag)
		if end == len(text) || text[end] < '0' || text[end] > '9' {
			return true
		}
		i = end
	}
}

// VCard builds the contact card of a name and a phone number (any format that
// message.PhoneNumber accepts), with the waid WhatsApp uses to offer "Message".
func VCard(name, phone string) (string, error) {
	digits, ok := message.PhoneNumber(phone)
	if !ok {
		return "", fmt.Errorf("contact phone number %q is not an international phone number", phone)
	}
	esc := strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`, "\r", "").Replace(name)
	return "BEGIN:VCARD\nVERSION:3.0\nN:;" + esc + ";;;\nFN:" + esc +
		"\nTEL;type=CELL;type=VOICE;waid=" + digits + ":+" + digits + "\nEND:VCARD", nil
}

// Trim returns a copy of msg without the thumbnails and other bulk that quoting it or
// downloading its media does not need, for storage.
func Trim(msg *waE2E.Message) *waE2E.Message {
	c := proto.Clone(msg).(*waE2E.Message)
	if m := c.GetImageMessage(); m != nil {
		m.JPEGThumbnail, m.ScansSidecar, m.MidQualityFileSHA256 = nil, nil, nil
	}
	if m := c.GetVideoMessage(); m != nil {
		m.JPEGThumbnail, m.StreamingSidecar = nil, nil
	}
	if m := c.GetAudioMessage(); m != nil {
		m.StreamingSidecar, m.Waveform = nil, nil
	}
	if m := c.GetDocumentMessage(); m != nil {
		m.JPEGThumbnail = nil
	}
	if m := c.GetStickerMessage(); m != nil {
		m.PngThumbnail = nil
	}
	if m := c.GetExtendedTextMessage(); m != nil {
		m.JPEGThumbnail = nil
		if ci := m.GetContextInfo(); ci != nil {
			ci.QuotedMessage = nil
		}
	}
	return c
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
