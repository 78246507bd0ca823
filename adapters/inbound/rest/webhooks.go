package rest

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/application"
)

// webhookJSON is a webhook as the API shows it: never its secret.
type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`  // empty: every event
	Devices   []string  `json:"devices"` // empty: every device
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Cursor is the id of the last event it is done with (delivered, dead-lettered or
	// not wanted).
	Cursor string `json:"cursor"`
}

func toWebhookJSON(w application.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: orEmpty(w.Events), Devices: orEmpty(w.Devices), Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Cursor: w.Cursor}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// webhookSettingsJSON is the body of POST and PATCH: absent fields are left as they are.
type webhookSettingsJSON struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Devices *[]string `json:"devices"`
	Secret  *string   `json:"secret"`
	Enabled *bool     `json:"enabled"`
}

func (b webhookSettingsJSON) settings() application.WebhookSettings {
	return application.WebhookSettings{URL: b.URL, Events: b.Events, Devices: b.Devices, Secret: b.Secret, Enabled: b.Enabled}
}

// createdWebhookJSON is a new webhook with its secret, shown this once.
type createdWebhookJSON struct {
	webhookJSON
	Secret string `json:"secret"`
}

func (a *API) createWebhook(c *fiber.Ctx) error {
	var body webhookSettingsJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	w, err := a.app.Commands.Webhooks.Create(c.UserContext(), body.settings())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/webhooks/" + w.ID)
	return c.Status(fiber.StatusCreated).JSON(createdWebhookJSON{webhookJSON: toWebhookJSON(w.Webhook), Secret: w.Secret})
}

func (a *API) listWebhooks(c *fiber.Ctx) error {
	ws, err := a.app.Commands.Webhooks.List(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(ws))
	for _, w := range ws {
		out = append(out, toWebhookJSON(w))
	}
	return c.JSON(fiber.Map{"webhooks": out})
}

func (a *API) getWebhook(c *fiber.Ctx) error {
	w, err := a.app.Commands.Webhooks.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toWebhookJSON(w))
}

func (a *API) updateWebhook(c *fiber.Ctx) error {
	var body webhookSettingsJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	w, err := a.app.Commands.Webhooks.Update(c.UserContext(), c.Params("id"), body.settings())
	if err != nil {
		return err
	}
	return c.JSON(toWebhookJSON(w))
}

func (a *API) deleteWebhook(c *fiber.Ctx) error {
	if err := a.app.Commands.Webhooks.Delete(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// deliveryJSON is one attempt to deliver an event.
type deliveryJSON struct {
	ID           int64      `json:"id"`
	EventID      string     `json:"eventId"`
	Event        string     `json:"event"`
	DeviceID     string     `json:"deviceId"`
	Attempt      int        `json:"attempt"`
	Status       string     `json:"status"`       // delivered, failed, dead, requeued or retried
	ResponseCode *int       `json:"responseCode"` // null when no answer came
	LatencyMS    float64    `json:"latencyMs"`
	Error        string     `json:"error,omitempty"`
	At           time.Time  `json:"at"`
	NextRetryAt  *time.Time `json:"nextRetryAt"` // failed: when the next attempt is due
}

func (a *API) listDeliveries(c *fiber.Ctx) error {
	limit, err := intParam(c, "limit")
	if err != nil {
		return err
	}
	ds, err := a.app.Commands.Webhooks.Deliveries(c.UserContext(), c.Params("id"), limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryJSON{ID: d.ID, EventID: d.EventID, Event: d.Event, DeviceID: d.DeviceID, Attempt: d.Attempt,
			Status: d.Status, ResponseCode: optionalCode(d.Code), LatencyMS: milliseconds(d.Latency), Error: d.Error, At: d.At,
			NextRetryAt: optionalTime(d.NextAttempt)})
	}
	return c.JSON(fiber.Map{"deliveries": out})
}

func (a *API) redeliverWebhook(c *fiber.Ctx) error {
	n, err := a.app.Commands.Webhooks.Redeliver(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"requeued": n})
}

// pingJSON is how the receiver answered a test ping.
type pingJSON struct {
	Delivered    bool    `json:"delivered"`
	ResponseCode *int    `json:"responseCode"`
	LatencyMS    float64 `json:"latencyMs"`
	Error        string  `json:"error,omitempty"`
}

func (a *API) pingWebhook(c *fiber.Ctx) error {
	r, err := a.app.Commands.Webhooks.Ping(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(pingJSON{Delivered: r.Delivered, ResponseCode: optionalCode(r.Code), LatencyMS: milliseconds(r.Latency), Error: r.Error})
}

func optionalCode(code int) *int {
	if code == 0 {
		return nil
	}
	return &code
}

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
