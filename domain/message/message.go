// Package message holds the normalized form of a WhatsApp message as the gateway reports
// it, independent of the library that received it.
package message

import "time"

// Type is what kind of content a message carries.
type Type string

const (
	TypeText     Type = "text"
	TypeImage    Type = "image"
	TypeVideo    Type = "video"
	TypeAudio    Type = "audio"
	TypeDocument Type = "document"
	TypeSticker  Type = "sticker"
	TypeLocation Type = "location"
	TypeContact  Type = "contact"
	TypeReaction Type = "reaction"
	TypeUnknown  Type = "unknown"
	// TypeEdit replaces the text (or caption) of message TargetID with Text (or Caption).
	TypeEdit Type = "edit"
	// TypeRevoke deletes message TargetID for everyone.
	TypeRevoke Type = "revoke"
	// TypeUndecryptable is a message the device could not decrypt: only who sent it and
	// when is known. The device asks the sender to send it again; when it does, the
	// message follows with the same ID.
	TypeUndecryptable Type = "undecryptable"
)

// Message is a message received (or sent from another linked device) on a device.
type Message struct {
	ID        string
	Chat      string // JID of the chat: the contact, or the group
	Sender    Sender
	PushName  string // the sender's own display name, when WhatsApp sent it
	FromMe    bool   // sent by the account itself, from this or another of its devices
	IsGroup   bool
	Type      Type
	Text      string   // body of a text message
	Caption   string   // caption of an image, video or document
	Media     *Media   // set for image, video, audio, document and sticker messages
	QuotedID  string   // id of the message this one replies to
	Mentions  []string // JIDs mentioned in the text
	Location  *Location
	Contact   *ReceivedContact
	Reaction  *Reaction
	TargetID  string // the message an edit, revoke or reaction is about
	Timestamp time.Time
}

// ReceivedContact is a contact card as received: its display name and vCard.
type ReceivedContact struct {
	Name  string
	VCard string
}

// Sender identifies who sent a message. WhatsApp addresses many senders by a LID (an
// opaque id) instead of their phone number; both are given where known.
type Sender struct {
	JID         string // as the message was addressed: user@s.whatsapp.net or user@lid
	PhoneNumber string // digits only, empty when WhatsApp did not reveal it
	LID         string // user@lid, when known
}

// Media describes an attached file without its content; the file itself is fetched
// through the device (GET /api/v1/devices/:id/messages/:messageId/media).
type Media struct {
	MimeType string
	Size     int64
	FileName string
}
