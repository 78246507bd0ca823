package rest

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/application"
)

// listEvents is the feed of every device the caller's key sees, after ?after= (an
// event id, "" for the oldest kept), at most ?limit= events. The answer's `next` is
// the `after` of the following page.
func (a *API) listEvents(c *fiber.Ctx) error {
	return a.events(c, application.ListEvents{Within: accessOf(c).Devices()})
}

// deviceEvents is listEvents for the device in the path (checked by scope).
func (a *API) deviceEvents(c *fiber.Ctx) error {
	return a.events(c, application.ListEvents{Device: deviceOf(c)})
}

func (a *API) events(c *fiber.Ctx, q application.ListEvents) error {
	var err error
	if q.Limit, err = intParam(c, "limit"); err != nil {
		return err
	}
	q.After = c.Query("after")
	page, err := a.app.Queries.ListEvents.Handle(c.UserContext(), q)
	if err != nil {
		return err
	}
	// Each event's data is its payload as the log keeps it: the Socket.io payload,
	// byte for byte.
	return c.JSON(page)
}

// historyJSON is a page of messages, newest first: `message` objects as the `message`
// event carries them. Next is the ?before= of the following page, "" after the last.
type historyJSON struct {
	Messages []json.RawMessage `json:"messages"`
	Next     string            `json:"next"`
}

// listMessages pages through the messages of the device in the path: of one chat with
// ?chat=, from the newest or from ?before=, at most ?limit=.
func (a *API) listMessages(c *fiber.Ctx) error {
	limit, err := intParam(c, "limit")
	if err != nil {
		return err
	}
	h, err := a.app.Queries.ListMessages.Handle(c.UserContext(), application.ListMessages{
		Device: deviceOf(c), Chat: c.Query("chat"), Before: c.Query("before"), Limit: limit,
	})
	if err != nil {
		return err
	}
	out := historyJSON{Messages: h.Messages, Next: h.Next}
	if out.Messages == nil {
		out.Messages = []json.RawMessage{}
	}
	return c.JSON(out)
}
