package wasim

import (
	"context"
	"crypto/sha256"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// IncomingMessage is a contact sending a message to an account: what POST
// /control/messages takes. Type selects the content and which other fields
// apply:
//
//	text (default)                    Text, QuotedID, Mentions
//	image, video, document            Data, Mimetype, Caption, QuotedID, Mentions; document also FileName
//	audio, sticker                    Data, Mimetype, QuotedID
//	location                          Location, QuotedID
//	contact                           Contact, QuotedID
//	reaction                          TargetID, Emoji ("" removes a reaction)
//	edit                              TargetID (a message the contact sent), Text: the new text
//	revoke                            TargetID (a message the contact sent): deleted for everyone
//
// Fields that do not apply to the type are rejected.
type IncomingMessage struct {
	// From is the contact's phone number. Any number works; it does not
	// have to be known to the simulator.
	From string `json:"from"`
	// To is the account's phone number; it must have a linked device.
	To   string `json:"to"`
	Type string `json:"type,omitempty"`
	Text string `json:"text,omitempty"`
	// Data is the file (base64 in JSON), at most 64 MiB. The simulator
	// encrypts it with a fresh media key and serves it at the message's
	// direct path, so whatsmeow's Download returns it.
	Data []byte `json:"data,omitempty"`
	// Mimetype defaults per type: image/jpeg, video/mp4,
	// "audio/ogg; codecs=opus", application/octet-stream, image/webp.
	Mimetype string    `json:"mimetype,omitempty"`
	FileName string    `json:"fileName,omitempty"`
	Caption  string    `json:"caption,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Contact is a contact card; an empty VCard gets a minimal one with
	// the display name.
	Contact  *Contact `json:"contact,omitempty"`
	TargetID string   `json:"targetId,omitempty"`
	Emoji    string   `json:"emoji,omitempty"`
	// QuotedID makes the message a reply to that message id: one the
	// account sent (then contextInfo.participant is the account) or one
	// the contact sent.
	QuotedID string `json:"quotedId,omitempty"`
	// Mentions are phone numbers, sent as contextInfo.mentionedJid.
	Mentions []string `json:"mentions,omitempty"`
	// PushName is the contact's display name (events.Message Info.PushName).
	PushName string `json:"pushName,omitempty"`
	// Undecryptable sends each linked device a copy it cannot decrypt first
	// (events.UndecryptableMessage); the real message follows, with the same
	// id, when the device sends a retry receipt.
	Undecryptable bool `json:"undecryptable,omitempty"`
}

// messageFields lists, per type, the optional content fields allowed.
var messageFields = map[string][]string{
	"text":     {"text", "quotedId", "mentions"},
	"image":    {"data", "mimetype", "caption", "quotedId", "mentions"},
	"video":    {"data", "mimetype", "caption", "quotedId", "mentions"},
	"document": {"data", "mimetype", "caption", "fileName", "quotedId", "mentions"},
	"audio":    {"data", "mimetype", "quotedId"},
	"sticker":  {"data", "mimetype", "quotedId"},
	"location": {"location", "quotedId"},
	"contact":  {"contact", "quotedId"},
	"reaction": {"targetId", "emoji"},
	"edit":     {"targetId", "text"},
	"revoke":   {"targetId"},
}

// validate checks a request without side effects; req.Type is set.
func (req *IncomingMessage) validate() error {
	allowed, ok := messageFields[req.Type]
	if !ok {
		return badRequest("invalid_message", "unknown type %q: want text, image, video, audio, document, sticker, location, contact, reaction, edit or revoke", req.Type)
	}
	set := []struct {
		name string
		set  bool
	}{
		{"text", req.Text != ""}, {"data", len(req.Data) > 0}, {"mimetype", req.Mimetype != ""},
		{"caption", req.Caption != ""}, {"fileName", req.FileName != ""}, {"location", req.Location != nil},
		{"contact", req.Contact != nil}, {"targetId", req.TargetID != ""}, {"emoji", req.Emoji != ""},
		{"quotedId", req.QuotedID != ""}, {"mentions", len(req.Mentions) > 0},
	}
	for _, f := range set {
		if f.set && !slices.Contains(allowed, f.name) {
			return badRequest("invalid_message", "%s does not apply to a %s message", f.name, req.Type)
		}
	}
	for _, f := range []struct{ name, v string }{{"text", req.Text}, {"caption", req.Caption}, {"fileName", req.FileName}, {"emoji", req.Emoji}} {
		if len(f.v) > maxTextBytes || !utf8.ValidString(f.v) {
			return badRequest("invalid_message", "%s must be valid UTF-8 of at most %d bytes", f.name, maxTextBytes)
		}
	}
	for _, m := range req.Mentions {
		if _, err := normalizePhone(m); err != nil {
			return badRequest("invalid_message", "mention %q: %s", m, asError(err).Message)
		}
	}
	_, isMedia := mediaKinds[req.Type]
	switch l, c := req.Location, req.Contact; {
	case req.Type == "text" && req.Text == "":
		return badRequest("invalid_message", "text is empty")
	case isMedia && len(req.Data) == 0:
		return badRequest("invalid_message", "data is empty")
	case isMedia && len(req.Data) > maxMediaBytes:
		return tooLarge("data exceeds %d bytes", maxMediaBytes)
	case req.Type == "location" && (l == nil || l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180):
		return badRequest("invalid_message", "location needs a latitude in [-90, 90] and a longitude in [-180, 180]")
	case req.Type == "contact" && (c == nil || c.DisplayName == ""):
		return badRequest("invalid_message", "contact needs a displayName")
	case (req.Type == "reaction" || req.Type == "edit" || req.Type == "revoke") && req.TargetID == "":
		return badRequest("invalid_message", "%s needs a targetId", req.Type)
	case req.Type == "edit" && req.Text == "":
		return badRequest("invalid_message", "edit needs the new text")
	}
	return nil
}

// SendMessage has contact req.From send a message to every linked device
// of account req.To, like SendText, with any content IncomingMessage
// describes. Attachments are encrypted and stored on the simulator's media
// host first.
func (s *Server) SendMessage(ctx context.Context, req IncomingMessage) (SentText, error) {
	from, err := normalizePhone(req.From)
	if err != nil {
		return SentText{}, err
	}
	to, err := normalizePhone(req.To)
	if err != nil {
		return SentText{}, err
	}
	if from == to {
		return SentText{}, badRequest("invalid_message", "from and to are the same number")
	}
	if req.Type == "" {
		req.Type = "text"
	}
	if err := req.validate(); err != nil {
		return SentText{}, err
	}
	// Refuse before encrypting and storing an attachment nobody can get.
	s.mu.Lock()
	acct, err := s.accountLocked(to)
	if err == nil && len(acct.devices) == 0 {
		err = conflict("no_devices", "%s has no linked device", to)
	}
	s.mu.Unlock()
	if err != nil {
		return SentText{}, err
	}
	msg, err := s.buildIncoming(&req, from, to)
	if err != nil {
		return SentText{}, err
	}
	return s.deliver(ctx, from, to, req.PushName, msg, req.Undecryptable)
}

// buildIncoming turns a validated request into the message protobuf a
// WhatsApp phone would send.
func (s *Server) buildIncoming(req *IncomingMessage, from, to string) (*waE2E.Message, error) {
	ci := s.contextInfo(req, from, to)
	switch req.Type {
	case "text":
		if ci == nil {
			return &waE2E.Message{Conversation: proto.String(req.Text)}, nil
		}
		return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(req.Text), ContextInfo: ci}}, nil
	case "location":
		l := req.Location
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(l.Latitude), DegreesLongitude: proto.Float64(l.Longitude),
			Name: nonEmpty(l.Name), Address: nonEmpty(l.Address), ContextInfo: ci,
		}}, nil
	case "contact":
		c := req.Contact
		vcard := c.VCard
		if vcard == "" {
			vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:" + c.DisplayName + "\nEND:VCARD"
		}
		return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String(c.DisplayName), Vcard: proto.String(vcard), ContextInfo: ci}}, nil
	case "reaction":
		// The key names the reacted-to message from the contact's side of
		// the chat: fromMe when the contact wrote it.
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key: &waCommon.MessageKey{
				RemoteJID: proto.String(types.NewJID(to, types.DefaultUserServer).String()),
				FromMe:    proto.Bool(!s.sentBy(to, req.TargetID)),
				ID:        proto.String(req.TargetID),
			},
			Text:              proto.String(req.Emoji),
			SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
		}}, nil
	case "edit", "revoke":
		// As whatsmeow's BuildEdit and BuildRevoke build them: the key names the
		// contact's own message.
		pm := &waE2E.ProtocolMessage{
			Key:  &waCommon.MessageKey{RemoteJID: proto.String(types.NewJID(to, types.DefaultUserServer).String()), FromMe: proto.Bool(true), ID: proto.String(req.TargetID)},
			Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		}
		if req.Type == "revoke" {
			return &waE2E.Message{ProtocolMessage: pm}, nil
		}
		pm.Type = waE2E.ProtocolMessage_MESSAGE_EDIT.Enum()
		pm.EditedMessage = &waE2E.Message{Conversation: proto.String(req.Text)}
		pm.TimestampMS = proto.Int64(time.Now().UnixMilli())
		return &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: pm}}}, nil
	}
	return s.buildAttachment(req, ci)
}

// buildAttachment encrypts and stores req.Data and builds the message that
// points at it, with the fields whatsmeow's Download needs.
func (s *Server) buildAttachment(req *IncomingMessage, ci *waE2E.ContextInfo) (*waE2E.Message, error) {
	kind := mediaKinds[req.Type]
	mediaKey, blob, err := encryptMedia(req.Data, kind.appInfo)
	if err != nil {
		return nil, internalError(err)
	}
	fileSHA, encSHA := sha256.Sum256(req.Data), sha256.Sum256(blob)
	dp := directPath(kind.mmsType, s.media.putBlob(blob))
	var (
		url      = proto.String("https://" + MediaHost + dp + "&mms3=true")
		length   = proto.Uint64(uint64(len(req.Data)))
		mimetype = req.Mimetype
		now      = proto.Int64(time.Now().Unix())
	)
	if mimetype == "" {
		mimetype = kind.defaultMimetype
	}
	switch req.Type {
	case "image":
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: url, DirectPath: proto.String(dp), MediaKey: mediaKey, MediaKeyTimestamp: now,
			FileSHA256: fileSHA[:], FileEncSHA256: encSHA[:], FileLength: length,
			Mimetype: proto.String(mimetype), Caption: nonEmpty(req.Caption), ContextInfo: ci,
		}}, nil
	case "video":
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: url, DirectPath: proto.String(dp), MediaKey: mediaKey, MediaKeyTimestamp: now,
			FileSHA256: fileSHA[:], FileEncSHA256: encSHA[:], FileLength: length,
			Mimetype: proto.String(mimetype), Caption: nonEmpty(req.Caption), ContextInfo: ci,
		}}, nil
	case "audio":
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: url, DirectPath: proto.String(dp), MediaKey: mediaKey, MediaKeyTimestamp: now,
			FileSHA256: fileSHA[:], FileEncSHA256: encSHA[:], FileLength: length,
			Mimetype: proto.String(mimetype), ContextInfo: ci,
		}}, nil
	case "sticker":
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			URL: url, DirectPath: proto.String(dp), MediaKey: mediaKey, MediaKeyTimestamp: now,
			FileSHA256: fileSHA[:], FileEncSHA256: encSHA[:], FileLength: length,
			Mimetype: proto.String(mimetype), ContextInfo: ci,
		}}, nil
	}
	doc := &waE2E.DocumentMessage{
		URL: url, DirectPath: proto.String(dp), MediaKey: mediaKey, MediaKeyTimestamp: now,
		FileSHA256: fileSHA[:], FileEncSHA256: encSHA[:], FileLength: length,
		Mimetype: proto.String(mimetype), FileName: nonEmpty(req.FileName), Title: nonEmpty(req.FileName),
		Caption: nonEmpty(req.Caption), ContextInfo: ci,
	}
	if req.Caption == "" {
		return &waE2E.Message{DocumentMessage: doc}, nil
	}
	// WhatsApp phones wrap a document with a caption; whatsmeow's
	// events.Message unwraps it (IsDocumentWithCaption), RawMessage keeps it.
	return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{
		Message: &waE2E.Message{DocumentMessage: doc},
	}}, nil
}

// contextInfo builds the reply and mention context of a contact's
// validated message, or nil if it has neither.
func (s *Server) contextInfo(req *IncomingMessage, from, to string) *waE2E.ContextInfo {
	if req.QuotedID == "" && len(req.Mentions) == 0 {
		return nil
	}
	ci := &waE2E.ContextInfo{}
	for _, m := range req.Mentions {
		phone, _ := normalizePhone(m)
		ci.MentionedJID = append(ci.MentionedJID, types.NewJID(phone, types.DefaultUserServer).String())
	}
	if req.QuotedID != "" {
		author := from
		if s.sentBy(to, req.QuotedID) {
			author = to
		}
		ci.StanzaID = proto.String(req.QuotedID)
		ci.Participant = proto.String(types.NewJID(author, types.DefaultUserServer).String())
	}
	return ci
}

// sentBy reports whether account phone's devices sent message id.
func (s *Server) sentBy(phone, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[phone]
	return u != nil && slices.ContainsFunc(u.sent, func(m SentMessage) bool { return m.ID == id })
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// stanzaTypes returns the <message type> and <enc mediatype> attributes a
// sender gives msg (as whatsmeow's getTypeFromMessage and
// getMediaTypeFromMessage do for the kinds the simulator sends).
func stanzaTypes(msg *waE2E.Message) (msgType, mediaType string) {
	msg = unwrapMessage(msg)
	switch {
	case msg.ReactionMessage != nil:
		return "reaction", ""
	case msg.ImageMessage != nil:
		return "media", "image"
	case msg.VideoMessage != nil:
		return "media", "video"
	case msg.AudioMessage != nil:
		if msg.AudioMessage.GetPTT() {
			return "media", "ptt"
		}
		return "media", "audio"
	case msg.DocumentMessage != nil:
		return "media", "document"
	case msg.StickerMessage != nil:
		return "media", "sticker"
	case msg.ContactMessage != nil:
		return "media", "vcard"
	}
	return "text", ""
}
