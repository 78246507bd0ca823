// Package database stores the gateway's state through bun: in an embedded SQLite file by
// default, or in PostgreSQL. Its migrations are embedded in the binary.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)
)

// SQLiteFile is the database file used under the data directory when no URL is given.
const SQLiteFile = "wagate.db"

// Open connects to the database at dsn: a postgres:// URL, or "" for the embedded SQLite
// file under dataDir. The SQLite file is locked for as long as it is open, because two
// gateways sharing one would both run the same WhatsApp sessions. close releases it all.
func Open(ctx context.Context, dsn, dataDir string) (db *bun.DB, close func() error, err error) {
	switch {
	case dsn == "":
		return openSQLite(ctx, dataDir)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	}
	return nil, nil, errors.New("DATABASE_URL must be a postgres:// URL, or unset for the embedded SQLite database")
}

func openPostgres(ctx context.Context, dsn string) (*bun.DB, func() error, error) {
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20)
	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, nil, fmt.Errorf("connect to postgres at %s: %w", redact(dsn), err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	return db, db.Close, nil
}

func openSQLite(ctx context.Context, dataDir string) (*bun.DB, func() error, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dataDir, SQLiteFile)
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, nil, err
	}
	// Foreign keys are off by default in SQLite and whatsmeow's store needs them. WAL lets
	// readers run beside the writer; IMMEDIATE transactions take the write lock up front,
	// so that two writers wait for each other (busy_timeout) instead of failing to upgrade.
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err == nil {
		err = sqldb.PingContext(ctx)
	}
	if err != nil {
		_ = lock.Close()
		return nil, nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	return db, func() error { return errors.Join(db.Close(), lock.Close()) }, nil
}

// lockFile takes an exclusive lock on path, failing at once when another process holds it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("the database %s is in use by another wagate process (lock %s): %w",
			strings.TrimSuffix(path, ".lock"), path, err)
	}
	return f, nil
}

// IsPostgres reports whether db is a PostgreSQL database.
func IsPostgres(db *bun.DB) bool { return db.Dialect().Name() == dialect.PG }

// redact removes the password from a database URL so that it can be shown.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
