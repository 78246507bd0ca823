package device

import (
	"encoding/json"
	"fmt"

	"github.com/wagate/wagate/domain/message"
)

// The payloads of the gateway's events, as Socket.io listeners, the REST feeds and
// webhooks get them: the contract's fields, with `timestamp` in Unix milliseconds, plus
// `eventId`, the event's id in the log (a string). Each event kind fills its own fields
// (its fill method): a kind without one does not compile.

// Payload is the payload of event e, numbered id in the log.
func Payload(e Event, id EventID) map[string]any {
	h := e.Head()
	p := map[string]any{"deviceId": h.DeviceID.String(), "timestamp": h.At.UnixMilli(), "eventId": id.String()}
	e.fill(p)
	return p
}

// EncodePayload is Payload as JSON.
func EncodePayload(e Event, id EventID) ([]byte, error) {
	b, err := json.Marshal(Payload(e, id))
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Name(), err)
	}
	return b, nil
}

func (e QR) fill(p map[string]any) { p["qr"] = e.Code }

func (e Authenticated) fill(p map[string]any) {
	p["phoneNumber"] = e.PhoneNumber
	p["clientName"] = e.ClientName
}

func (e Ready) fill(p map[string]any) {
	if e.PhoneNumber != "" {
		p["phoneNumber"] = e.PhoneNumber
	}
}

func (e MessageReceived) fill(p map[string]any) { p["message"] = MessagePayload(e.Message) }
func (e StateChanged) fill(p map[string]any)    { p["status"] = e.Status.String() }

func (e Receipt) fill(p map[string]any) {
	u := e.Update
	ids := u.MessageIDs
	if ids == nil {
		ids = []string{}
	}
	p["status"] = string(u.Status)
	p["messageIds"] = ids
	p["chat"] = u.Chat
	p["from"] = senderJSON(u.From)
	p["fromMe"] = u.FromMe
}
func (e Disconnected) fill(p map[string]any) { p["reason"] = string(e.Reason) }

// MessagePayload is the `message` object of the `message` event. Every key is always
// present; what a message does not have is null.
func MessagePayload(m message.Message) map[string]any {
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	return map[string]any{
		"id":        m.ID,
		"chat":      m.Chat,
		"sender":    senderJSON(m.Sender),
		"pushName":  orNull(m.PushName),
		"fromMe":    m.FromMe,
		"isGroup":   m.IsGroup,
		"type":      string(m.Type),
		"text":      orNull(m.Text),
		"caption":   orNull(m.Caption),
		"media":     mediaJSON(m.Media),
		"quotedId":  orNull(m.QuotedID),
		"mentions":  mentions,
		"location":  locationJSON(m.Location),
		"contact":   contactJSON(m.Contact),
		"reaction":  reactionJSON(m.Reaction),
		"targetId":  orNull(m.TargetID),
		"timestamp": m.Timestamp.UnixMilli(),
	}
}

// senderJSON is an address with the phone number and LID behind it, where known.
func senderJSON(s message.Sender) map[string]any {
	return map[string]any{"jid": s.JID, "phoneNumber": orNull(s.PhoneNumber), "lid": orNull(s.LID)}
}

func mediaJSON(m *message.Media) any {
	if m == nil {
		return nil
	}
	return map[string]any{"mimetype": m.MimeType, "size": m.Size, "fileName": orNull(m.FileName)}
}

func locationJSON(l *message.Location) any {
	if l == nil {
		return nil
	}
	return map[string]any{"latitude": l.Latitude, "longitude": l.Longitude, "name": orNull(l.Name), "address": orNull(l.Address)}
}

func contactJSON(c *message.ReceivedContact) any {
	if c == nil {
		return nil
	}
	return map[string]any{"name": c.Name, "vcard": c.VCard}
}

func reactionJSON(r *message.Reaction) any {
	if r == nil {
		return nil
	}
	return map[string]any{"messageId": r.MessageID, "emoji": r.Emoji}
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
