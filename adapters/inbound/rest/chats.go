package rest

import (
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/message"
)

// The messaging calls besides sending: read receipts, chat states, edits, revokes and
// questions about contacts. Chats and contacts in paths are phone numbers or JIDs
// (URL-encoded or not).

// pathParam is a path parameter, URL-decoded: JIDs hold "@", which clients may encode.
func pathParam(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil {
		return "", invalid("%s in the path is not URL-encoded correctly", name)
	}
	return v, nil
}

type readJSON struct {
	MessageIDs []string `json:"messageIds"`
	Sender     string   `json:"sender"`
}

// markRead marks messages as read; without messageIds (or body), the chat's newest
// received messages.
func (a *API) markRead(c *fiber.Ctx) error {
	chat, err := pathParam(c, "chat")
	if err != nil {
		return err
	}
	var body readJSON
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
	}
	ids, err := a.app.Commands.MarkRead.Handle(c.UserContext(), application.MarkRead{
		DeviceID: deviceOf(c), Chat: chat, MessageIDs: body.MessageIDs, Sender: body.Sender,
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"messageIds": ids})
}

type presenceJSON struct {
	State string `json:"state"`
}

func (a *API) setChatState(c *fiber.Ctx) error {
	chat, err := pathParam(c, "chat")
	if err != nil {
		return err
	}
	var body presenceJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := a.app.Commands.SetChatState.Handle(c.UserContext(), application.SetChatState{DeviceID: deviceOf(c), Chat: chat, State: body.State}); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

type editJSON struct {
	Chat string `json:"chat"`
	Text string `json:"text"`
}

func (a *API) editMessage(c *fiber.Ctx) error {
	var body editJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	msgID, err := pathParam(c, "messageId")
	if err != nil {
		return err
	}
	r, err := a.app.Commands.EditMessage.Handle(c.UserContext(), application.EditMessage{DeviceID: deviceOf(c), Edit: message.Edit{Chat: body.Chat, MessageID: msgID, Text: body.Text}})
	if err != nil {
		return err
	}
	return c.JSON(receiptJSON{ID: r.ID, To: r.To, Timestamp: r.Timestamp.UTC()})
}

// revokeMessage deletes a sent message for everyone: ?chat= names its chat.
func (a *API) revokeMessage(c *fiber.Ctx) error {
	msgID, err := pathParam(c, "messageId")
	if err != nil {
		return err
	}
	r, err := a.app.Commands.RevokeMessage.Handle(c.UserContext(), application.RevokeMessage{DeviceID: deviceOf(c), Chat: c.Query("chat"), MessageID: msgID})
	if err != nil {
		return err
	}
	return c.JSON(receiptJSON{ID: r.ID, To: r.To, Timestamp: r.Timestamp.UTC()})
}

type checkJSON struct {
	Phones []string `json:"phones"`
}

type phoneCheckJSON struct {
	Phone      string  `json:"phone"`
	OnWhatsApp bool    `json:"onWhatsApp"`
	JID        *string `json:"jid"`
	LID        *string `json:"lid"`
}

// checkPhones tells which phone numbers are on WhatsApp. It changes nothing, so
// read-only keys may ask (it is a POST for its list of numbers).
func (a *API) checkPhones(c *fiber.Ctx) error {
	var body checkJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	checks, err := a.app.Queries.CheckPhones.Handle(c.UserContext(), application.CheckPhones{DeviceID: deviceOf(c), Phones: body.Phones})
	if err != nil {
		return err
	}
	out := make([]phoneCheckJSON, len(checks))
	for i, ch := range checks {
		out[i] = phoneCheckJSON{Phone: ch.Phone, OnWhatsApp: ch.OnWhatsApp, JID: nullable(ch.JID), LID: nullable(ch.LID)}
	}
	return c.JSON(fiber.Map{"contacts": out})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a *API) getPicture(c *fiber.Ctx) error {
	contact, err := pathParam(c, "contact")
	if err != nil {
		return err
	}
	p, err := a.app.Queries.GetPicture.Handle(c.UserContext(), application.GetProfilePicture{DeviceID: deviceOf(c), Contact: contact})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": p.URL, "id": p.ID})
}

// scopeRead is scope for a POST that only reads.
func (a *API) scopeRead(c *fiber.Ctx) error {
	id, err := scopedDevice(accessOf(c), http.MethodGet, c.Params("id"))
	if err != nil {
		return err
	}
	c.Locals(deviceLocal, id)
	return c.Next()
}
