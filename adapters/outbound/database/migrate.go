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

// migrationsTable is where bun keeps the names of the applied migrations.
const migrationsTable = "bun_migrations"

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
	return migrateFS(ctx, db, sub)
}

// migrateFS applies the migrations in fsys that db has not seen yet. Each one runs in a
// transaction that also records it in migrationsTable, so that a crash leaves it either
// wholly applied and recorded or not at all (PostgreSQL and SQLite both roll back DDL).
// bun's own Migrate records a migration in a statement of its own after committing it:
// a crash between the two made every later start re-run a migration already applied.
func migrateFS(ctx context.Context, db *bun.DB, fsys fs.FS) (applied []string, err error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// The hooks run inside the migration's transaction (for .tx.up.sql files).
	m := migrate.NewMigrator(db, ms, migrate.WithTableName(migrationsTable),
		migrate.BeforeMigration(requireTx), migrate.AfterMigration(record))
	err = Exclusively(ctx, db, migrationLockKey, func() error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		all, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return err
		}
		group := all.LastGroupID() + 1
		for _, mig := range all.Unapplied() {
			if mig.Up == nil {
				return fmt.Errorf("%s: no up migration", mig.Name)
			}
			mig.GroupID = group
			if err := mig.Up(ctx, m, &mig); err != nil {
				return fmt.Errorf("%s: up: %w", mig.Name, err)
			}
			applied = append(applied, mig.String())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

// requireTx refuses, before any of its statements run, a migration that bun would not run
// in a transaction (one not named *.tx.up.sql): it could not be recorded atomically.
func requireTx(_ context.Context, db bun.IConn, mig *migrate.Migration) error {
	_, err := asTx(db, mig)
	return err
}

// record marks mig applied in the transaction that ran it, after its statements.
func record(ctx context.Context, db bun.IConn, mig *migrate.Migration) error {
	tx, err := asTx(db, mig)
	if err != nil {
		return err
	}
	if _, err := tx.NewInsert().Model(mig).ModelTableExpr(migrationsTable).Exec(ctx); err != nil {
		return fmt.Errorf("record as applied: %w", err)
	}
	return nil
}

func asTx(db bun.IConn, mig *migrate.Migration) (bun.Tx, error) {
	tx, ok := db.(bun.Tx)
	if !ok {
		return bun.Tx{}, fmt.Errorf("not transactional: name it %s.tx.up.sql", mig)
	}
	return tx, nil
}
