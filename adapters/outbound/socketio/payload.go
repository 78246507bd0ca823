package socketio

import (
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// The payloads of the gateway contract (shared/spec/websocket-gateway.md): exactly its
// fields, with `timestamp` in Unix milliseconds.

func payload(e device.Event) map[string]any {
	h := e.Head()
	p := map[string]any{"deviceId": h.DeviceID.String(), "timestamp": h.At.UnixMilli()}
	switch e := e.(type) {
	case device.QR:
		p["qr"] = e.Code
	case device.Authenticated:
		p["phoneNumber"] = e.PhoneNumber
		p["clientName"] = e.ClientName
	case device.Ready:
		if e.PhoneNumber != "" {
			p["phoneNumber"] = e.PhoneNumber
		}
	case device.MessageReceived:
		p["message"] = messageJSON(e.Message)
	case device.StateChanged:
		p["status"] = e.Status.String()
	case device.Disconnected:
		p["reason"] = string(e.Reason)
	}
	return p
}

// messageJSON is the `message` object of the `message` event. Every key is always
// present; what a message does not have is null.
func messageJSON(m message.Message) map[string]any {
	mentions := m.Mentions
	if mentions == nil {
		mentions = []string{}
	}
	return map[string]any{
		"id":   m.ID,
		"chat": m.Chat,
		"sender": map[string]any{
			"jid":         m.Sender.JID,
			"phoneNumber": orNull(m.Sender.PhoneNumber),
			"lid":         orNull(m.Sender.LID),
		},
		"pushName":  orNull(m.PushName),
		"fromMe":    m.FromMe,
		"isGroup":   m.IsGroup,
		"type":      string(m.Type),
		"text":      orNull(m.Text),
		"caption":   orNull(m.Caption),
		"media":     mediaJSON(m.Media),
		"quotedId":  orNull(m.QuotedID),
		"mentions":  toAny(mentions),
		"location":  locationJSON(m.Location),
		"contact":   contactJSON(m.Contact),
		"reaction":  reactionJSON(m.Reaction),
		"timestamp": m.Timestamp.UnixMilli(),
	}
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

// toAny converts a slice for the Socket.io encoder, which handles []any and maps of any.
func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
