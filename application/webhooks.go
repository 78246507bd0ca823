package application

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// Webhook is the read model of a webhook: never its secret.
type Webhook struct {
	ID        string
	URL       string
	Events    []string // empty: every event
	Devices   []string // empty: every device
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// Cursor is the id of the last event of the log it is done with.
	Cursor string
}

func webhookView(w *webhook.Webhook) Webhook {
	s := w.Snapshot()
	v := Webhook{ID: s.ID.String(), URL: s.URL, Events: s.Events, Enabled: s.Enabled, CreatedAt: s.CreatedAt,
		UpdatedAt: s.UpdatedAt, Cursor: s.Cursor.String()}
	for _, id := range s.Devices {
		v.Devices = append(v.Devices, id.String())
	}
	return v
}

// WebhookSettings are the fields a caller sets; nil ones are left as they are (on
// creation: every event, every device, a generated secret, enabled).
type WebhookSettings struct {
	URL     *string
	Events  *[]string
	Devices *[]string
	Secret  *string
	Enabled *bool
}

// CreatedWebhook is a new webhook with its secret, shown this once.
type CreatedWebhook struct {
	Webhook
	Secret string
}

// Delivery is one attempt to deliver an event, as callers see it.
type Delivery struct {
	ID          int64
	EventID     string
	Event       string
	DeviceID    string
	Attempt     int
	Status      string
	Code        int
	Error       string
	Latency     time.Duration
	At          time.Time
	NextAttempt time.Time // zero unless Status is failed
}

// PingResult is how a webhook answered a test ping.
type PingResult struct {
	Delivered bool
	Code      int
	Error     string
	Latency   time.Duration
}

// Webhooks manages webhooks: the admin's use cases. Delivery is the Dispatcher's.
type Webhooks struct {
	hooks      webhook.Repository
	deliveries webhook.Deliveries
	events     device.EventLog
	repo       device.Repository
	sender     webhook.Sender
	clock      Clock
}

func (h Webhooks) settings(ctx context.Context, s WebhookSettings) (webhook.Settings, error) {
	out := webhook.Settings{URL: s.URL, Events: s.Events, Secret: s.Secret, Enabled: s.Enabled}
	if s.URL != nil {
		if err := h.sender.Check(*s.URL); err != nil {
			return out, err
		}
	}
	if s.Devices != nil {
		ids := make([]device.ID, 0, len(*s.Devices))
		for _, raw := range *s.Devices {
			id, err := device.ParseID(raw)
			if err != nil {
				return out, err
			}
			if _, err := h.repo.Get(ctx, id); err != nil {
				return out, err
			}
			ids = append(ids, id)
		}
		out.Devices = &ids
	}
	return out, nil
}

// Create adds a webhook, which gets the events committed from now on.
func (h Webhooks) Create(ctx context.Context, s WebhookSettings) (CreatedWebhook, error) {
	ws, err := h.settings(ctx, s)
	if err != nil {
		return CreatedWebhook{}, err
	}
	last, err := h.events.Last(ctx)
	if err != nil {
		return CreatedWebhook{}, err
	}
	w, err := webhook.New(ws, last, h.clock())
	if err != nil {
		return CreatedWebhook{}, err
	}
	if err := h.hooks.Create(ctx, w); err != nil {
		return CreatedWebhook{}, err
	}
	return CreatedWebhook{Webhook: webhookView(w), Secret: w.Snapshot().Secret}, nil
}

// Update changes a webhook's settings.
func (h Webhooks) Update(ctx context.Context, rawID string, s WebhookSettings) (Webhook, error) {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return Webhook{}, err
	}
	ws, err := h.settings(ctx, s)
	if err != nil {
		return Webhook{}, err
	}
	w, err := h.hooks.Update(ctx, id, func(w *webhook.Webhook) error { return w.Change(ws, h.clock()) })
	if err != nil {
		return Webhook{}, err
	}
	return webhookView(w), nil
}

func (h Webhooks) Get(ctx context.Context, rawID string) (Webhook, error) {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return Webhook{}, err
	}
	w, err := h.hooks.Get(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	return webhookView(w), nil
}

func (h Webhooks) List(ctx context.Context) ([]Webhook, error) {
	ws, err := h.hooks.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Webhook, 0, len(ws))
	for _, w := range ws {
		out = append(out, webhookView(w))
	}
	return out, nil
}

func (h Webhooks) Delete(ctx context.Context, rawID string) error {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return err
	}
	return h.hooks.Delete(ctx, id)
}

// DefaultDeliveryPage and MaxDeliveryPage bound a listing of delivery attempts.
const (
	DefaultDeliveryPage = 50
	MaxDeliveryPage     = 500
)

// Deliveries lists a webhook's most recent delivery attempts, newest first.
func (h Webhooks) Deliveries(ctx context.Context, rawID string, limit int) ([]Delivery, error) {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return nil, err
	}
	if limit, err = pageLimit(limit, DefaultDeliveryPage, MaxDeliveryPage); err != nil {
		return nil, err
	}
	if _, err := h.hooks.Get(ctx, id); err != nil {
		return nil, err
	}
	ds, err := h.deliveries.List(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, Delivery{ID: d.ID, EventID: d.EventID.String(), Event: d.Event, DeviceID: d.DeviceID.String(),
			Attempt: d.Attempt, Status: string(d.Status), Code: d.Code, Error: d.Error, Latency: d.Latency, At: d.At, NextAttempt: d.NextAttempt})
	}
	return out, nil
}

// Redeliver queues a webhook's dead letters to be sent again, and reports how many.
func (h Webhooks) Redeliver(ctx context.Context, rawID string) (int, error) {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return 0, err
	}
	if _, err := h.hooks.Get(ctx, id); err != nil {
		return 0, err
	}
	return h.deliveries.Requeue(ctx, id)
}

// Ping sends the webhook a signed test event, "ping", outside the log, and tells how
// its receiver answered.
func (h Webhooks) Ping(ctx context.Context, rawID string) (PingResult, error) {
	id, err := webhook.ParseID(rawID)
	if err != nil {
		return PingResult{}, err
	}
	w, err := h.hooks.Get(ctx, id)
	if err != nil {
		return PingResult{}, err
	}
	now := h.clock()
	data, _ := json.Marshal(map[string]any{"webhookId": id.String(), "timestamp": now.UnixMilli()})
	code, latency, err := post(ctx, h.sender, w, "ping", "0", data, now)
	r := PingResult{Delivered: err == nil, Code: code, Latency: latency}
	if err != nil {
		r.Error = err.Error()
	}
	return r, nil
}
