package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// Webhooks keeps webhooks, which instance delivers each, and their delivery attempts.
type Webhooks struct {
	db *bun.DB
}

var (
	_ webhook.Repository = (*Webhooks)(nil)
	_ webhook.Deliveries = (*Deliveries)(nil)
)

func NewWebhooks(db *bun.DB) *Webhooks { return &Webhooks{db: db} }

// Deliveries is the delivery attempts of w's webhooks.
func (w *Webhooks) Deliveries() *Deliveries { return &Deliveries{db: w.db} }

type webhookRow struct {
	bun.BaseModel `bun:"table:webhooks"`

	ID        string    `bun:"id,pk"`
	URL       string    `bun:"url,notnull"`
	Events    string    `bun:"events,notnull"`
	Devices   string    `bun:"devices,notnull"`
	Secret    string    `bun:"secret,notnull"`
	Enabled   bool      `bun:"enabled,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
	Cursor    int64     `bun:"cursor_id,notnull"`
}

func toWebhookRow(w *webhook.Webhook) *webhookRow {
	s := w.Snapshot()
	devices := make([]string, len(s.Devices))
	for i, id := range s.Devices {
		devices[i] = id.String()
	}
	return &webhookRow{ID: s.ID.String(), URL: s.URL, Events: strings.Join(s.Events, ","), Devices: strings.Join(devices, ","),
		Secret: s.Secret, Enabled: s.Enabled, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Cursor: int64(s.Cursor)}
}

func (r *webhookRow) webhook() *webhook.Webhook {
	s := webhook.Snapshot{ID: webhook.ID(r.ID), URL: r.URL, Secret: r.Secret, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Cursor: device.EventID(r.Cursor)}
	if r.Events != "" {
		s.Events = strings.Split(r.Events, ",")
	}
	if r.Devices != "" {
		for _, id := range strings.Split(r.Devices, ",") {
			s.Devices = append(s.Devices, device.ID(id))
		}
	}
	return webhook.Rehydrate(s)
}

func (w *Webhooks) Create(ctx context.Context, h *webhook.Webhook) error {
	if _, err := w.db.NewInsert().Model(toWebhookRow(h)).Exec(ctx); err != nil {
		return fmt.Errorf("insert webhook: %w", err)
	}
	return nil
}

func (w *Webhooks) Get(ctx context.Context, id webhook.ID) (*webhook.Webhook, error) {
	return w.get(ctx, w.db, id, false)
}

func (w *Webhooks) get(ctx context.Context, db bun.IDB, id webhook.ID, forUpdate bool) (*webhook.Webhook, error) {
	row := new(webhookRow)
	q := db.NewSelect().Model(row).Where("id = ?", id.String())
	if forUpdate && IsPostgres(w.db) {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, webhook.NotFound(id)
		}
		return nil, fmt.Errorf("select webhook: %w", err)
	}
	return row.webhook(), nil
}

func (w *Webhooks) List(ctx context.Context) ([]*webhook.Webhook, error) {
	var rows []webhookRow
	if err := w.db.NewSelect().Model(&rows).Order("created_at", "id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]*webhook.Webhook, len(rows))
	for i := range rows {
		out[i] = rows[i].webhook()
	}
	return out, nil
}

// Update leaves the cursor alone: it is the dispatcher's, through Advance.
func (w *Webhooks) Update(ctx context.Context, id webhook.ID, fn func(*webhook.Webhook) error) (*webhook.Webhook, error) {
	var out *webhook.Webhook
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		h, err := w.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := fn(h); err != nil {
			return err
		}
		row := toWebhookRow(h)
		if _, err := tx.NewUpdate().Model(row).ExcludeColumn("id", "created_at", "cursor_id").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update webhook: %w", err)
		}
		out = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w.Get(ctx, out.ID())
}

func (w *Webhooks) Delete(ctx context.Context, id webhook.ID) error {
	return w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*webhookRow)(nil)).Where("id = ?", id.String()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return webhook.NotFound(id)
		}
		if _, err := tx.NewDelete().Model((*deliveryRow)(nil)).Where("webhook_id = ?", id.String()).Exec(ctx); err != nil {
			return fmt.Errorf("delete webhook deliveries: %w", err)
		}
		return nil
	})
}

// Claim takes the webhook when it is free, expired, or owner's already: one statement,
// so two instances cannot both win.
func (w *Webhooks) Claim(ctx context.Context, id webhook.ID, owner string, now, expires time.Time) (bool, error) {
	res, err := w.db.NewUpdate().Model((*webhookRow)(nil)).Set("owner = ?, owner_expires = ?", owner, expires.UTC()).
		Where("id = ? AND (owner = ? OR owner_expires < ?)", id.String(), owner, now.UTC()).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("claim webhook %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (w *Webhooks) Advance(ctx context.Context, id webhook.ID, owner string, cursor device.EventID) (bool, error) {
	res, err := w.db.NewUpdate().Model((*webhookRow)(nil)).Set("cursor_id = ?", int64(cursor)).
		Where("id = ? AND owner = ? AND cursor_id < ?", id.String(), owner, int64(cursor)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("move the cursor of webhook %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Deliveries keeps the attempts to deliver events to webhooks.
type Deliveries struct {
	db *bun.DB
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID          int64     `bun:"id,pk,autoincrement"`
	WebhookID   string    `bun:"webhook_id,notnull"`
	EventID     int64     `bun:"event_id,notnull"`
	Event       string    `bun:"event,notnull"`
	DeviceID    string    `bun:"device_id,notnull"`
	Attempt     int       `bun:"attempt,notnull"`
	Status      string    `bun:"status,notnull"`
	Code        int       `bun:"code,notnull"`
	Error       string    `bun:"error,notnull"`
	LatencyUS   int64     `bun:"latency_us,notnull"`
	At          time.Time `bun:"at,notnull"`
	NextAttempt time.Time `bun:"next_attempt,nullzero"`
}

func (r *deliveryRow) delivery() webhook.Delivery {
	d := webhook.Delivery{ID: r.ID, Webhook: webhook.ID(r.WebhookID), EventID: device.EventID(r.EventID), Event: r.Event,
		DeviceID: device.ID(r.DeviceID), Attempt: r.Attempt, Status: webhook.Status(r.Status), Code: r.Code, Error: r.Error,
		Latency: time.Duration(r.LatencyUS) * time.Microsecond, At: r.At.UTC()}
	if !r.NextAttempt.IsZero() {
		d.NextAttempt = r.NextAttempt.UTC()
	}
	return d
}

func (d *Deliveries) Add(ctx context.Context, del webhook.Delivery) error {
	row := &deliveryRow{WebhookID: del.Webhook.String(), EventID: int64(del.EventID), Event: del.Event, DeviceID: del.DeviceID.String(),
		Attempt: del.Attempt, Status: string(del.Status), Code: del.Code, Error: del.Error, LatencyUS: del.Latency.Microseconds(),
		At: del.At.UTC()}
	if !del.NextAttempt.IsZero() {
		row.NextAttempt = del.NextAttempt.UTC()
	}
	if _, err := d.db.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("insert webhook delivery: %w", err)
	}
	return nil
}

func (d *Deliveries) list(ctx context.Context, q *bun.SelectQuery) ([]webhook.Delivery, error) {
	var rows []deliveryRow
	if err := q.Model(&rows).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out := make([]webhook.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

func (d *Deliveries) List(ctx context.Context, id webhook.ID, limit int) ([]webhook.Delivery, error) {
	return d.list(ctx, d.db.NewSelect().Where("webhook_id = ?", id.String()).Order("id DESC").Limit(int64(limit)))
}

func (d *Deliveries) Requeue(ctx context.Context, id webhook.ID) (int, error) {
	res, err := d.db.NewUpdate().Model((*deliveryRow)(nil)).Set("status = ?", string(webhook.Requeued)).
		Where("webhook_id = ? AND status = ?", id.String(), string(webhook.Dead)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("requeue dead letters: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (d *Deliveries) Requeued(ctx context.Context, id webhook.ID, limit int) ([]webhook.Delivery, error) {
	return d.list(ctx, d.db.NewSelect().Where("webhook_id = ? AND status = ?", id.String(), string(webhook.Requeued)).
		Order("event_id", "id").Limit(int64(limit)))
}

func (d *Deliveries) MarkRetried(ctx context.Context, delivery int64) error {
	_, err := d.db.NewUpdate().Model((*deliveryRow)(nil)).Set("status = ?", string(webhook.Retried)).
		Where("id = ? AND status = ?", delivery, string(webhook.Requeued)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark a dead letter retried: %w", err)
	}
	return nil
}

func (d *Deliveries) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	oldest := d.db.NewSelect().Model((*deliveryRow)(nil)).Column("id").Where("at < ?", before.UTC()).Order("id").Limit(int64(limit))
	res, err := d.db.NewDelete().Model((*deliveryRow)(nil)).Where("id IN (?)", oldest).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
