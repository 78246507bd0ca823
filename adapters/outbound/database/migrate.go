package database

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey identifies the gateway's migrations among PostgreSQL advisory locks.
const migrationLockKey = 0x77616761_7465 // "wagate"

// Migrate brings the schema up to date, one gateway at a time (see Exclusively).
func Migrate(ctx context.Context, db *bun.DB) (applied []string, err error) {
	dir := "migrations/sqlite"
	if IsPostgres(db) {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
	err = Exclusively(ctx, db, migrationLockKey, func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		group, err := m.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, mig := range group.Migrations {
			applied = append(applied, mig.String())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}
