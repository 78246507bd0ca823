package database

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Exclusively runs fn while no other gateway on the same database runs fn with the same
// key: on PostgreSQL under a session advisory lock (released with the connection even if
// the process dies); on SQLite it just runs fn, as Open has locked the file already.
// Schema upgrades use it, since several gateways may start together.
func Exclusively(ctx context.Context, db *bun.DB, key int64, fn func() error) error {
	if !IsPostgres(db) {
		return fn()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key) //nolint:errcheck // the lock goes with the connection anyway
	return fn()
}
