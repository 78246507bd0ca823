package message

import (
	"time"

	"github.com/wagate/wagate/domain"
)

// Outgoing is a message to send from a device. It carries exactly one kind of content:
// Text alone, Media (Text is then its caption), Location, Contact or Reaction.
type Outgoing struct {
	To       string   // recipient: a phone number (digits, optional leading +) or a JID
	Text     string   // the text, or the caption of Media
	ReplyTo  string   // id of a message in the same chat to quote
	Mentions []string // phone numbers or JIDs mentioned in Text as @number
	Media    *Attachment
	Location *Location
	Contact  *Contact
	Reaction *Reaction
}

// Attachment is a file to send.
type Attachment struct {
	Type     Type // TypeImage, TypeVideo, TypeAudio, TypeDocument or TypeSticker
	Data     []byte
	MimeType string
	FileName string // shown for documents
}

// Location is a point on the map.
type Location struct {
	Latitude  float64
	Longitude float64
	Name      string
	Address   string
}

// Contact is a contact card.
type Contact struct {
	Name        string
	PhoneNumber string
}

// Reaction reacts to a message with an emoji; an empty emoji removes the reaction.
type Reaction struct {
	MessageID string
	Emoji     string
}

// Receipt is what WhatsApp answered to a message sent.
type Receipt struct {
	ID        string
	To        string // the recipient's JID
	Timestamp time.Time
}

// MaxTextLength is the longest text WhatsApp accepts in one message, in bytes.
const MaxTextLength = 65536

// Validate checks the rules that do not need WhatsApp.
func (o Outgoing) Validate() error {
	kinds := 0
	for _, set := range []bool{o.Media != nil, o.Location != nil, o.Contact != nil, o.Reaction != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case o.To == "":
		return invalid("to is required")
	case kinds > 1:
		return invalid("send one of media, location, contact or reaction per message")
	case kinds == 0 && o.Text == "":
		return invalid("text is required")
	case len(o.Text) > MaxTextLength:
		return invalid("text must be at most %d bytes", MaxTextLength)
	case o.Reaction != nil && o.Reaction.MessageID == "":
		return invalid("reaction.messageId is required")
	case o.Reaction != nil && o.Text != "":
		return invalid("a reaction has no text")
	case o.Location != nil && (o.Location.Latitude < -90 || o.Location.Latitude > 90 || o.Location.Longitude < -180 || o.Location.Longitude > 180):
		return invalid("location must have a latitude in [-90, 90] and a longitude in [-180, 180]")
	case o.Contact != nil && (o.Contact.Name == "" || o.Contact.PhoneNumber == ""):
		return invalid("contact needs a name and a phoneNumber")
	case o.Media != nil && len(o.Media.Data) == 0:
		return invalid("media is empty")
	}
	if o.Media != nil {
		switch o.Media.Type {
		case TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker:
		default:
			return invalid("media type must be image, video, audio, document or sticker")
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return domain.Errorf(domain.KindInvalid, format, args...)
}
