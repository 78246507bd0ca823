package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
)

// Leases keeps the device leases and the instances (see domain/cluster).
type Leases struct {
	db *bun.DB
}

var _ cluster.Leases = (*Leases)(nil)

func NewLeases(db *bun.DB) *Leases { return &Leases{db: db} }

type leaseRow struct {
	bun.BaseModel `bun:"table:device_leases"`

	DeviceID   string    `bun:"device_id,pk"`
	Owner      string    `bun:"owner,notnull"`
	Generation int64     `bun:"generation,notnull"`
	ExpiresAt  time.Time `bun:"expires_at,notnull"`
}

func (r leaseRow) lease() cluster.Lease {
	return cluster.Lease{DeviceID: device.ID(r.DeviceID), Owner: r.Owner, Generation: r.Generation, Expires: r.ExpiresAt.UTC()}
}

type instanceRow struct {
	bun.BaseModel `bun:"table:instances"`

	ID        string    `bun:"id,pk"`
	Address   string    `bun:"address,notnull"`
	ExpiresAt time.Time `bun:"expires_at,notnull"`
}

// Claim inserts the lease, or takes it over when it has expired (or is owner's
// already), raising its generation; one statement, so two claims cannot both win.
func (l *Leases) Claim(ctx context.Context, id device.ID, owner string, now, expires time.Time) (cluster.Lease, bool, error) {
	row := &leaseRow{DeviceID: id.String(), Owner: owner, Generation: 1, ExpiresAt: expires.UTC()}
	err := l.db.NewInsert().Model(row).
		On("CONFLICT (device_id) DO UPDATE").
		Set("owner = EXCLUDED.owner, generation = ?TableAlias.generation + 1, expires_at = EXCLUDED.expires_at").
		Where("?TableAlias.expires_at < ? OR ?TableAlias.owner = EXCLUDED.owner", now.UTC()).
		Returning("*").Scan(ctx)
	if err == nil {
		return row.lease(), true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return cluster.Lease{}, false, fmt.Errorf("claim lease of %s: %w", id, err)
	}
	held, ok, err := l.Get(ctx, id)
	if err != nil || !ok {
		return cluster.Lease{}, false, errors.Join(err, fmt.Errorf("claim lease of %s: refused, and no holder found", id))
	}
	return held, false, nil
}

func (l *Leases) Renew(ctx context.Context, owner string, ids []device.ID, expires time.Time) ([]device.ID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var renewed []string
	err := l.db.NewUpdate().Model((*leaseRow)(nil)).Set("expires_at = ?", expires.UTC()).
		Where("owner = ? AND device_id IN (?)", owner, bun.List(idStrings(ids))).
		Returning("device_id").Scan(ctx, &renewed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	out := make([]device.ID, len(renewed))
	for i, id := range renewed {
		out[i] = device.ID(id)
	}
	return out, nil
}

func (l *Leases) Release(ctx context.Context, owner string, ids []device.ID, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := l.db.NewUpdate().Model((*leaseRow)(nil)).Set("expires_at = ?", now.UTC()).
		Where("owner = ? AND device_id IN (?)", owner, bun.List(idStrings(ids))).Exec(ctx)
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

func (l *Leases) Get(ctx context.Context, id device.ID) (cluster.Lease, bool, error) {
	row := new(leaseRow)
	err := l.db.NewSelect().Model(row).Where("device_id = ?", id.String()).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return cluster.Lease{}, false, nil
	case err != nil:
		return cluster.Lease{}, false, fmt.Errorf("read lease of %s: %w", id, err)
	}
	return row.lease(), true, nil
}

func (l *Leases) Held(ctx context.Context, now time.Time) (map[string]int, error) {
	var rows []struct {
		Owner string `bun:"owner"`
		N     int    `bun:"n"`
	}
	err := l.db.NewSelect().Model((*leaseRow)(nil)).ColumnExpr("owner, count(*) AS n").
		Where("expires_at > ?", now.UTC()).Group("owner").Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("count leases: %w", err)
	}
	held := make(map[string]int, len(rows))
	for _, r := range rows {
		held[r.Owner] = r.N
	}
	return held, nil
}

func (l *Leases) Holders(ctx context.Context, now time.Time) (map[device.ID]string, error) {
	var rows []struct {
		DeviceID string `bun:"device_id"`
		Owner    string `bun:"owner"`
	}
	err := l.db.NewSelect().Model((*leaseRow)(nil)).Column("device_id", "owner").
		Where("expires_at > ?", now.UTC()).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list lease holders: %w", err)
	}
	out := make(map[device.ID]string, len(rows))
	for _, r := range rows {
		out[device.ID(r.DeviceID)] = r.Owner
	}
	return out, nil
}

func (l *Leases) Beat(ctx context.Context, inst cluster.Instance, expires time.Time) error {
	_, err := l.db.NewInsert().Model(&instanceRow{ID: inst.ID, Address: inst.Address, ExpiresAt: expires.UTC()}).
		On("CONFLICT (id) DO UPDATE").Set("address = EXCLUDED.address, expires_at = EXCLUDED.expires_at").Exec(ctx)
	if err != nil {
		return fmt.Errorf("record instance: %w", err)
	}
	return nil
}

func (l *Leases) Live(ctx context.Context, now time.Time) ([]cluster.Instance, error) {
	var rows []instanceRow
	if err := l.db.NewSelect().Model(&rows).Where("expires_at > ?", now.UTC()).Order("id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	out := make([]cluster.Instance, len(rows))
	for i, r := range rows {
		out[i] = cluster.Instance{ID: r.ID, Address: r.Address}
	}
	return out, nil
}

// checkFence refuses, inside tx, a write whose context carries a fence that is no
// longer the device's lease (cluster.WithFence). In PostgreSQL the lease row is locked
// for share until tx ends, so that no claim can slip in before the write commits.
func checkFence(ctx context.Context, tx bun.Tx, id device.ID) error {
	f, ok := cluster.FenceOf(ctx)
	if !ok {
		return nil
	}
	row := new(leaseRow)
	q := tx.NewSelect().Model(row).Where("device_id = ?", id.String())
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("SHARE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (row.Owner != f.Owner || row.Generation != f.Generation)) {
		return cluster.Stale(id)
	}
	if err != nil {
		return fmt.Errorf("check lease of %s: %w", id, err)
	}
	return nil
}

func idStrings(ids []device.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
