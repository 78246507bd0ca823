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
	"github.com/wagate/wagate/domain/key"
)

// Keys is the API key repository.
type Keys struct {
	db *bun.DB
}

var _ key.Repository = (*Keys)(nil)

func NewKeys(db *bun.DB) *Keys { return &Keys{db: db} }

type keyRow struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID        string    `bun:"id,pk"`
	Name      string    `bun:"name,notnull"`
	Role      string    `bun:"role,notnull"`
	Devices   string    `bun:"devices,notnull"`
	Hash      []byte    `bun:"hash,notnull"`
	Hint      string    `bun:"hint,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	ExpiresAt time.Time `bun:"expires_at,nullzero"`
}

func (r *keyRow) key() (*key.Key, error) {
	role, err := key.ParseRole(r.Role)
	if err != nil {
		return nil, fmt.Errorf("key %s: stored role: %w", r.ID, err)
	}
	s := key.Snapshot{ID: key.ID(r.ID), Name: r.Name, Role: role, Hint: r.Hint, CreatedAt: r.CreatedAt.UTC()}
	if !r.ExpiresAt.IsZero() {
		s.ExpiresAt = r.ExpiresAt.UTC()
	}
	copy(s.Hash[:], r.Hash)
	if r.Devices != "" {
		for _, id := range strings.Split(r.Devices, ",") {
			s.Devices = append(s.Devices, device.ID(id))
		}
	}
	return key.Rehydrate(s), nil
}

func (k *Keys) Create(ctx context.Context, kk *key.Key) error {
	s := kk.Snapshot()
	ids := make([]string, len(s.Devices))
	for i, id := range s.Devices {
		ids[i] = id.String()
	}
	row := &keyRow{ID: s.ID.String(), Name: s.Name, Role: s.Role.String(), Devices: strings.Join(ids, ","),
		Hash: s.Hash[:], Hint: s.Hint, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	if _, err := k.db.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("insert key: %w", err)
	}
	return nil
}

func (k *Keys) ByHash(ctx context.Context, h key.Hash) (*key.Key, error) {
	row := new(keyRow)
	if err := k.db.NewSelect().Model(row).Where("hash = ?", h[:]).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, key.NotFound("")
		}
		return nil, fmt.Errorf("select key: %w", err)
	}
	return row.key()
}

func (k *Keys) List(ctx context.Context) ([]*key.Key, error) {
	var rows []keyRow
	if err := k.db.NewSelect().Model(&rows).Order("created_at", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]*key.Key, 0, len(rows))
	for i := range rows {
		kk, err := rows[i].key()
		if err != nil {
			return nil, err
		}
		out = append(out, kk)
	}
	return out, nil
}

func (k *Keys) Delete(ctx context.Context, id key.ID) error {
	res, err := k.db.NewDelete().Model((*keyRow)(nil)).Where("id = ?", id.String()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return key.NotFound(id)
	}
	return nil
}
