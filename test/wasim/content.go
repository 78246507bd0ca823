package wasim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
)

// SentMessage is a message a linked device sent, as its recipient decrypted
// it. Type says which of the content fields are set.
type SentMessage struct {
	ID         string `json:"id"`
	From       string `json:"from"` // the account's phone number
	FromDevice uint16 `json:"fromDevice"`
	To         string `json:"to"` // the recipient's phone number
	// Type is the kind of content: text, image, video, audio, document,
	// sticker, location, contact, contacts, reaction, edit, revoke, poll,
	// or unknown (also when the message could not be decrypted).
	Type string `json:"type"`
	// Text is the text of a text message, the new text of an edit, or the
	// name of a poll.
	Text string `json:"text"`

	// Attachments (image, video, audio, document, sticker). Caption,
	// Mimetype, FileName and FileLength are what the message says; SHA256 is
	// the hex SHA-256 of the file the simulator downloaded and decrypted
	// with the message's media key (GET /control/media/{id} returns it).
	// MediaError says why the file could not be fetched, decrypted or
	// verified (SHA256 is still set if it was decrypted).
	Caption    string `json:"caption,omitempty"`
	Mimetype   string `json:"mimetype,omitempty"`
	FileName   string `json:"fileName,omitempty"`
	FileLength uint64 `json:"fileLength,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	MediaError string `json:"mediaError,omitempty"`

	Location *Location `json:"location,omitempty"`
	Contact  *Contact  `json:"contact,omitempty"`  // type contact
	Contacts []Contact `json:"contacts,omitempty"` // type contacts
	// TargetID is the message a reaction, edit or revoke is about; Emoji
	// the reaction ("" removes one).
	TargetID string `json:"targetId,omitempty"`
	Emoji    string `json:"emoji,omitempty"`
	// QuotedID is the message this one replies to (contextInfo.stanzaId);
	// Mentions the JIDs it mentions (contextInfo.mentionedJid).
	QuotedID string   `json:"quotedId,omitempty"`
	Mentions []string `json:"mentions,omitempty"`

	Timestamp time.Time `json:"timestamp"`
	// Error is set when the recipient could not decrypt the message.
	Error string `json:"error,omitempty"`
}

// Location is a point on the map, in a location message.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Contact is a contact card.
type Contact struct {
	DisplayName string `json:"displayName"`
	VCard       string `json:"vcard"`
}

// attachment is what the downloadable messages (ImageMessage, VideoMessage,
// AudioMessage, DocumentMessage, StickerMessage) have in common.
type attachment interface {
	GetDirectPath() string
	GetMediaKey() []byte
	GetFileSHA256() []byte
	GetFileEncSHA256() []byte
	GetMimetype() string
	GetFileLength() uint64
	GetContextInfo() *waE2E.ContextInfo
}

// unwrapMessage removes the envelopes WhatsApp puts around content, as
// whatsmeow's events.Message.UnwrapRaw does.
func unwrapMessage(msg *waE2E.Message) *waE2E.Message {
	for {
		var inner *waE2E.Message
		switch {
		case msg.GetDeviceSentMessage().GetMessage() != nil:
			inner = msg.GetDeviceSentMessage().GetMessage()
		case msg.GetEphemeralMessage().GetMessage() != nil:
			inner = msg.GetEphemeralMessage().GetMessage()
		case msg.GetViewOnceMessage().GetMessage() != nil:
			inner = msg.GetViewOnceMessage().GetMessage()
		case msg.GetViewOnceMessageV2().GetMessage() != nil:
			inner = msg.GetViewOnceMessageV2().GetMessage()
		case msg.GetViewOnceMessageV2Extension().GetMessage() != nil:
			inner = msg.GetViewOnceMessageV2Extension().GetMessage()
		case msg.GetDocumentWithCaptionMessage().GetMessage() != nil:
			inner = msg.GetDocumentWithCaptionMessage().GetMessage()
		case msg.GetEditedMessage().GetMessage() != nil:
			inner = msg.GetEditedMessage().GetMessage()
		default:
			return msg
		}
		msg = inner
	}
}

// describeMessage fills rec's type and content fields from a decrypted
// message. For an attachment it also returns the part to download and its
// kind.
func describeMessage(rec *SentMessage, msg *waE2E.Message) (attachment, mediaKind) {
	msg = unwrapMessage(msg)
	var (
		ci   *waE2E.ContextInfo
		att  attachment
		kind string
	)
	switch {
	case msg.Conversation != nil:
		rec.Type, rec.Text = "text", msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		rec.Type, rec.Text = "text", msg.GetExtendedTextMessage().GetText()
		ci = msg.GetExtendedTextMessage().GetContextInfo()
	case msg.ImageMessage != nil:
		att, kind, rec.Caption = msg.ImageMessage, "image", msg.ImageMessage.GetCaption()
	case msg.VideoMessage != nil:
		att, kind, rec.Caption = msg.VideoMessage, "video", msg.VideoMessage.GetCaption()
	case msg.AudioMessage != nil:
		att, kind = msg.AudioMessage, "audio"
	case msg.DocumentMessage != nil:
		att, kind, rec.Caption = msg.DocumentMessage, "document", msg.DocumentMessage.GetCaption()
		rec.FileName = msg.DocumentMessage.GetFileName()
	case msg.StickerMessage != nil:
		att, kind = msg.StickerMessage, "sticker"
	case msg.LocationMessage != nil:
		l := msg.LocationMessage
		rec.Type = "location"
		rec.Location = &Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude(), Name: l.GetName(), Address: l.GetAddress()}
		ci = l.GetContextInfo()
	case msg.ContactMessage != nil:
		rec.Type = "contact"
		rec.Contact = &Contact{DisplayName: msg.ContactMessage.GetDisplayName(), VCard: msg.ContactMessage.GetVcard()}
		ci = msg.ContactMessage.GetContextInfo()
	case msg.ContactsArrayMessage != nil:
		rec.Type = "contacts"
		for _, c := range msg.ContactsArrayMessage.GetContacts() {
			rec.Contacts = append(rec.Contacts, Contact{DisplayName: c.GetDisplayName(), VCard: c.GetVcard()})
		}
		ci = msg.ContactsArrayMessage.GetContextInfo()
	case msg.ReactionMessage != nil:
		rec.Type = "reaction"
		rec.TargetID, rec.Emoji = msg.ReactionMessage.GetKey().GetID(), msg.ReactionMessage.GetText()
	case msg.ProtocolMessage != nil:
		describeProtocolMessage(rec, msg.ProtocolMessage)
	case msg.PollCreationMessage != nil, msg.PollCreationMessageV2 != nil, msg.PollCreationMessageV3 != nil:
		rec.Type = "poll"
		for _, p := range []*waE2E.PollCreationMessage{msg.PollCreationMessage, msg.PollCreationMessageV2, msg.PollCreationMessageV3} {
			if p != nil {
				rec.Text, ci = p.GetName(), p.GetContextInfo()
			}
		}
	default:
		rec.Type = "unknown"
	}
	if att != nil {
		rec.Type = kind
		rec.Mimetype, rec.FileLength = att.GetMimetype(), att.GetFileLength()
		ci = att.GetContextInfo()
	}
	if ci != nil {
		rec.QuotedID, rec.Mentions = ci.GetStanzaID(), ci.GetMentionedJID()
	}
	return att, mediaKinds[kind]
}

// describeProtocolMessage handles the protocol messages a user can cause:
// deleting ("revoke") and editing a sent message.
func describeProtocolMessage(rec *SentMessage, pm *waE2E.ProtocolMessage) {
	rec.TargetID = pm.GetKey().GetID()
	switch pm.GetType() {
	case waE2E.ProtocolMessage_REVOKE:
		rec.Type = "revoke"
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		rec.Type = "edit"
		var edited SentMessage
		describeMessage(&edited, pm.GetEditedMessage())
		rec.Text, rec.Caption = edited.Text, edited.Caption
	default:
		rec.Type, rec.TargetID = "unknown", ""
	}
}

// openAttachment downloads an outgoing attachment from the media store as
// the recipient would, by its direct path, and decrypts and checks it.
// Checks of what the message claims (hashes, length) come after decryption:
// the plaintext is returned along with such an error.
func (s *Server) openAttachment(att attachment, kind mediaKind) ([]byte, error) {
	dp := att.GetDirectPath()
	if dp == "" {
		return nil, errors.New("the message has no directPath")
	}
	key := blobKeyFromPath(dp)
	blob, ok := s.media.blob(key)
	if !ok {
		return nil, fmt.Errorf("no file at directPath %s: not uploaded to this simulator, or forgotten", dp)
	}
	if enc := att.GetFileEncSHA256(); hex.EncodeToString(enc) != key {
		return nil, fmt.Errorf("fileEncSha256 %x does not match the uploaded file (%s)", enc, key)
	}
	plaintext, err := decryptMedia(blob, att.GetMediaKey(), kind.appInfo)
	if err != nil {
		return nil, err
	}
	var errs []error
	if sum := sha256.Sum256(plaintext); !bytes.Equal(att.GetFileSHA256(), sum[:]) {
		errs = append(errs, fmt.Errorf("fileSha256 %x does not match the decrypted file (%x)", att.GetFileSHA256(), sum))
	}
	if n := uint64(len(plaintext)); att.GetFileLength() != n {
		errs = append(errs, fmt.Errorf("fileLength %d does not match the decrypted file (%d bytes)", att.GetFileLength(), n))
	}
	return plaintext, errors.Join(errs...)
}
