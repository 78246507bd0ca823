package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/domain/device"
)

// Devices is the device repository.
type Devices struct {
	db      *bun.DB
	journal *journal // the transactions that append events
}

var _ device.Repository = (*Devices)(nil)

type deviceRow struct {
	bun.BaseModel `bun:"table:devices"`

	ID                   string    `bun:"id,pk"`
	Name                 string    `bun:"name,notnull"`
	Status               string    `bun:"status,notnull"`
	JID                  string    `bun:"jid,notnull"`
	PhoneNumber          string    `bun:"phone_number,notnull"`
	PushName             string    `bun:"push_name,notnull"`
	BusinessName         string    `bun:"business_name,notnull"`
	LastDisconnectReason string    `bun:"last_disconnect_reason,notnull"`
	BanExpiresAt         time.Time `bun:"ban_expires_at,nullzero"`
	QR                   string    `bun:"qr,notnull"`
	QRExpiresAt          time.Time `bun:"qr_expires_at,nullzero"`
	CreatedAt            time.Time `bun:"created_at,notnull"`
	UpdatedAt            time.Time `bun:"updated_at,notnull"`
	LastConnectedAt      time.Time `bun:"last_connected_at,nullzero"`
}

func toRow(d *device.Device) *deviceRow {
	s := d.Snapshot()
	return &deviceRow{
		ID: s.ID.String(), Name: s.Name, Status: s.Status.String(), JID: s.JID,
		PhoneNumber: s.PhoneNumber, PushName: s.PushName, BusinessName: s.BusinessName,
		LastDisconnectReason: string(s.LastDisconnectReason), BanExpiresAt: s.BanExpiresAt, QR: s.QR, QRExpiresAt: s.QRExpiresAt,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, LastConnectedAt: s.LastConnectedAt,
	}
}

func (r *deviceRow) device() (*device.Device, error) {
	status, err := device.ParseStatus(r.Status)
	if err != nil {
		return nil, fmt.Errorf("device %s: stored status: %w", r.ID, err)
	}
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC()
	}
	return device.Rehydrate(device.Snapshot{
		ID: device.ID(r.ID), Name: r.Name, Status: status, JID: r.JID,
		PhoneNumber: r.PhoneNumber, PushName: r.PushName, BusinessName: r.BusinessName,
		LastDisconnectReason: device.Reason(r.LastDisconnectReason), BanExpiresAt: utc(r.BanExpiresAt), QR: r.QR, QRExpiresAt: utc(r.QRExpiresAt),
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt), LastConnectedAt: utc(r.LastConnectedAt),
	}), nil
}

func (r *Devices) Create(ctx context.Context, d *device.Device) error {
	if _, err := r.db.NewInsert().Model(toRow(d)).Exec(ctx); err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}

func (r *Devices) Get(ctx context.Context, id device.ID) (*device.Device, error) {
	return r.get(ctx, r.db, id, false)
}

func (r *Devices) get(ctx context.Context, db bun.IDB, id device.ID, forUpdate bool) (*device.Device, error) {
	row := new(deviceRow)
	q := db.NewSelect().Model(row).Where("id = ?", id.String())
	if forUpdate && IsPostgres(r.db) {
		q = q.For("UPDATE") // SQLite has no row locks; its IMMEDIATE transaction locks the file
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, device.NotFound(id)
		}
		return nil, fmt.Errorf("select device: %w", err)
	}
	return row.device()
}

func (r *Devices) List(ctx context.Context, f device.Filter) (device.Page, error) {
	var rows []deviceRow
	q := r.db.NewSelect().Model(&rows).Order("created_at", "id").Limit(int64(f.Limit)).Offset(int64(f.Offset))
	if len(f.Statuses) > 0 {
		q = q.Where("status IN (?)", bun.List(statusNames(f.Statuses)))
	}
	total, err := q.ScanAndCount(ctx)
	if err != nil {
		return device.Page{}, fmt.Errorf("list devices: %w", err)
	}
	page := device.Page{Total: int(total), Devices: make([]*device.Device, 0, len(rows))}
	for i := range rows {
		d, err := rows[i].device()
		if err != nil {
			return device.Page{}, err
		}
		page.Devices = append(page.Devices, d)
	}
	return page, nil
}

func (r *Devices) IDs(ctx context.Context, statuses []device.Status) ([]device.ID, error) {
	var ids []string
	q := r.db.NewSelect().Model((*deviceRow)(nil)).Column("id").Order("created_at", "id")
	if len(statuses) > 0 {
		q = q.Where("status IN (?)", bun.List(statusNames(statuses)))
	}
	if err := q.Scan(ctx, &ids); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list device ids: %w", err)
	}
	out := make([]device.ID, len(ids))
	for i, id := range ids {
		out[i] = device.ID(id)
	}
	return out, nil
}

func statusNames(statuses []device.Status) []string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = s.String()
	}
	return names
}

func (r *Devices) Count(ctx context.Context) (map[device.Status]int, error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	if err := r.db.NewSelect().Model((*deviceRow)(nil)).Column("status").ColumnExpr("count(*) AS n").Group("status").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count devices: %w", err)
	}
	counts := make(map[device.Status]int, len(rows))
	for _, row := range rows {
		s, err := device.ParseStatus(row.Status)
		if err != nil {
			return nil, fmt.Errorf("count devices: stored status: %w", err)
		}
		counts[s] = row.N
	}
	return counts, nil
}

func (r *Devices) Update(ctx context.Context, id device.ID, fn func(*device.Device) error) (*device.Device, error) {
	var d *device.Device
	err := r.journal.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := checkFence(ctx, tx, id); err != nil {
			return err
		}
		var err error
		if d, err = r.get(ctx, tx, id, true); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(toRow(d)).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update device: %w", err)
		}
		return appendEvents(ctx, tx, d.PullEvents())
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Delete deletes the device and its messages, and appends the events fn recorded.
func (r *Devices) Delete(ctx context.Context, id device.ID, fn func(*device.Device) error) error {
	return r.journal.run(ctx, func(ctx context.Context, tx bun.Tx) error {
		d, err := r.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*deviceRow)(nil)).Where("id = ?", id.String()).Exec(ctx); err != nil {
			return fmt.Errorf("delete device: %w", err)
		}
		if _, err := tx.NewDelete().Model((*messageRow)(nil)).Where("device_id = ?", id.String()).Exec(ctx); err != nil {
			return fmt.Errorf("delete messages of device %s: %w", id, err)
		}
		if _, err := tx.NewDelete().Model((*leaseRow)(nil)).Where("device_id = ?", id.String()).Exec(ctx); err != nil {
			return fmt.Errorf("delete lease of device %s: %w", id, err)
		}
		return appendEvents(ctx, tx, d.PullEvents())
	})
}

func (r *Devices) Ping(ctx context.Context) error { return r.db.PingContext(ctx) }
