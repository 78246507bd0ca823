package message

// ChatState is what the account shows it is doing in a chat.
type ChatState string

const (
	ChatComposing ChatState = "composing" // typing
	ChatRecording ChatState = "recording" // recording a voice note
	ChatPaused    ChatState = "paused"    // stopped typing or recording
)

// ParseChatState reads a chat state as users write it.
func ParseChatState(s string) (ChatState, error) {
	switch st := ChatState(s); st {
	case ChatComposing, ChatRecording, ChatPaused:
		return st, nil
	}
	return "", invalid("state must be composing, recording or paused")
}

// ReadMark marks messages of a chat as read. In a group, the messages of one call are
// all from Sender; in a one-to-one chat Sender is empty.
type ReadMark struct {
	Chat   string // phone number or JID
	IDs    []string
	Sender string
}

// Edit replaces the text (or caption) of a message the device sent.
type Edit struct {
	Chat      string // phone number or JID
	MessageID string
	Text      string
}

// Validate checks the rules that do not need WhatsApp.
func (e Edit) Validate() error {
	switch {
	case e.Chat == "":
		return invalid("chat is required")
	case e.MessageID == "":
		return invalid("message id is required")
	case e.Text == "":
		return invalid("text is required")
	case len(e.Text) > MaxTextLength:
		return invalid("text must be at most %d bytes", MaxTextLength)
	}
	return nil
}

// PhoneCheck says whether a phone number is on WhatsApp, and its addresses there.
type PhoneCheck struct {
	Phone      string // as asked
	OnWhatsApp bool
	JID        string // user@s.whatsapp.net, when on WhatsApp
	LID        string // user@lid, when WhatsApp tells
}

// MaxPhoneChecks is how many numbers one check may ask about.
const MaxPhoneChecks = 50

// Picture is a contact's profile picture, as WhatsApp serves it.
type Picture struct {
	URL string
	ID  string // changes when the picture does
}
