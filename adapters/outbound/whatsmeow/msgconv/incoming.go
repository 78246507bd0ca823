// Package msgconv converts between whatsmeow's protobuf messages and the gateway's
// normalized messages, both ways. It holds no state and does no I/O: the session code
// around it looks up what needs a database (LIDs, quoted messages) and uploads media.
package msgconv

import (
	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"math"

	"github.com/wagate/wagate/domain/message"
)

// Incoming normalizes a message whatsmeow received (already unwrapped from ephemeral,
// view-once and similar containers). The sender's phone number and LID are filled from
// what the message itself carries; Sender.PhoneNumber or Sender.LID stay empty when it
// did not say (see FillSender).
func Incoming(evt *events.Message) message.Message {
	m := fromInfo(evt.Info)
	ctx := Content(evt.Message, &m)
	if ctx != nil {
		m.QuotedID = ctx.GetStanzaID()
		m.Mentions = ctx.GetMentionedJID()
	}
	return m
}

// fromInfo is a message with what its envelope says: id, chat, sender, time.
func fromInfo(info types.MessageInfo) message.Message {
	return message.Message{
		ID:        info.ID,
		Chat:      info.Chat.ToNonAD().String(),
		Sender:    Sender(info.Sender, info.SenderAlt),
		PushName:  info.PushName,
		FromMe:    info.IsFromMe,
		IsGroup:   info.IsGroup,
		Timestamp: info.Timestamp.UTC(),
	}
}

// Sender builds the sender of a message from the JID it was addressed from and its
// alternative address (the LID of a phone-number sender, or the reverse).
func Sender(jid, alt types.JID) message.Sender {
	s := message.Sender{JID: jid.ToNonAD().String()}
	for _, j := range []types.JID{jid, alt} {
		switch j.Server {
		case types.DefaultUserServer:
			if s.PhoneNumber == "" {
				s.PhoneNumber = j.User
			}
		case types.HiddenUserServer:
			if s.LID == "" {
				s.LID = j.ToNonAD().String()
			}
		}
	}
	return s
}

// FillSender completes s with the other address of its sender, as found by lookup (the
// LID↔phone number mapping whatsmeow keeps); it is left as it is when lookup fails.
func FillSender(s *message.Sender, jid types.JID, lookup func(types.JID) (types.JID, bool)) {
	if s.PhoneNumber != "" && s.LID != "" {
		return
	}
	alt, ok := lookup(jid.ToNonAD())
	if !ok {
		return
	}
	switch {
	case alt.Server == types.DefaultUserServer && s.PhoneNumber == "":
		s.PhoneNumber = alt.User
	case alt.Server == types.HiddenUserServer && s.LID == "":
		s.LID = alt.ToNonAD().String()
	}
}

// Content fills the type and content fields of m from msg and returns the context info
// of the content (quote, mentions), if it has any. This is the one place that knows the
// kinds of WhatsApp messages the gateway understands; anything else is TypeUnknown.
func Content(msg *waE2E.Message, m *message.Message) *waE2E.ContextInfo {
	switch {
	case msg == nil:
		m.Type = message.TypeUnknown
	case msg.Conversation != nil:
		m.Type, m.Text = message.TypeText, msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		t := msg.ExtendedTextMessage
		m.Type, m.Text = message.TypeText, t.GetText()
		return t.GetContextInfo()
	case msg.ImageMessage != nil:
		im := msg.ImageMessage
		m.Type, m.Caption = message.TypeImage, im.GetCaption()
		m.Media = &message.Media{MimeType: im.GetMimetype(), Size: declaredSize(im.GetFileLength())}
		return im.GetContextInfo()
	case msg.VideoMessage != nil:
		v := msg.VideoMessage
		m.Type, m.Caption = message.TypeVideo, v.GetCaption()
		m.Media = &message.Media{MimeType: v.GetMimetype(), Size: declaredSize(v.GetFileLength())}
		return v.GetContextInfo()
	case msg.AudioMessage != nil:
		a := msg.AudioMessage
		m.Type = message.TypeAudio
		m.Media = &message.Media{MimeType: a.GetMimetype(), Size: declaredSize(a.GetFileLength())}
		return a.GetContextInfo()
	case msg.DocumentMessage != nil:
		d := msg.DocumentMessage
		m.Type, m.Caption = message.TypeDocument, d.GetCaption()
		m.Media = &message.Media{MimeType: d.GetMimetype(), Size: declaredSize(d.GetFileLength()), FileName: d.GetFileName()}
		return d.GetContextInfo()
	case msg.StickerMessage != nil:
		st := msg.StickerMessage
		m.Type = message.TypeSticker
		m.Media = &message.Media{MimeType: st.GetMimetype(), Size: declaredSize(st.GetFileLength())}
		return st.GetContextInfo()
	case msg.LocationMessage != nil:
		l := msg.LocationMessage
		m.Type = message.TypeLocation
		m.Location = &message.Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude(), Name: l.GetName(), Address: l.GetAddress()}
		return l.GetContextInfo()
	case msg.LiveLocationMessage != nil:
		l := msg.LiveLocationMessage
		m.Type, m.Caption = message.TypeLocation, l.GetCaption()
		m.Location = &message.Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude()}
		return l.GetContextInfo()
	case msg.ContactMessage != nil:
		c := msg.ContactMessage
		m.Type = message.TypeContact
		m.Contact = &message.ReceivedContact{Name: c.GetDisplayName(), VCard: c.GetVcard()}
		return c.GetContextInfo()
	case msg.ContactsArrayMessage != nil && len(msg.ContactsArrayMessage.GetContacts()) > 0:
		// Several cards in one message: the first one, as the normalized message holds one.
		c := msg.ContactsArrayMessage.GetContacts()[0]
		m.Type = message.TypeContact
		m.Contact = &message.ReceivedContact{Name: c.GetDisplayName(), VCard: c.GetVcard()}
		return msg.ContactsArrayMessage.GetContextInfo()
	case msg.ReactionMessage != nil:
		r := msg.ReactionMessage
		m.Type, m.TargetID = message.TypeReaction, r.GetKey().GetID()
		m.Reaction = &message.Reaction{MessageID: m.TargetID, Emoji: r.GetText()}
	case Change(msg) && msg.ProtocolMessage.GetType() == waE2E.ProtocolMessage_REVOKE:
		m.Type, m.TargetID = message.TypeRevoke, msg.ProtocolMessage.GetKey().GetID()
	case Change(msg) && msg.ProtocolMessage.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT:
		// The new content, as a message of its own: its text, or its caption.
		var edited message.Message
		Content(msg.ProtocolMessage.GetEditedMessage(), &edited)
		m.Type, m.TargetID = message.TypeEdit, msg.ProtocolMessage.GetKey().GetID()
		m.Text, m.Caption = edited.Text, edited.Caption
	default:
		m.Type = message.TypeUnknown
	}
	return nil
}

// Change tells whether msg revokes or edits a message: a protocol message of either type
// that names its target. (REVOKE is 0, the type of a protocol message that says none.)
func Change(msg *waE2E.Message) bool {
	p := msg.GetProtocolMessage()
	t := p.GetType()
	return p != nil && (t == waE2E.ProtocolMessage_REVOKE || t == waE2E.ProtocolMessage_MESSAGE_EDIT) && p.GetKey().GetID() != ""
}

// Downloadable returns the media part of msg that whatsmeow can download, or nil.
func Downloadable(msg *waE2E.Message) meow.DownloadableMessage {
	switch {
	case msg.GetImageMessage() != nil:
		return msg.GetImageMessage()
	case msg.GetVideoMessage() != nil:
		return msg.GetVideoMessage()
	case msg.GetAudioMessage() != nil:
		return msg.GetAudioMessage()
	case msg.GetDocumentMessage() != nil:
		return msg.GetDocumentMessage()
	case msg.GetStickerMessage() != nil:
		return msg.GetStickerMessage()
	}
	return nil
}

// declaredSize is the size a sender declared for its file. It is only what the sender
// says (the download finds the real one), and a value past int64 is no size at all.
func declaredSize(n uint64) int64 {
	if n > math.MaxInt64 {
		return 0
	}
	return int64(n)
}
