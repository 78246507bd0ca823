// Package dbtest gives tests fresh, migrated databases: an SQLite file in a temporary
// directory, or a new database on the PostgreSQL server of TEST_POSTGRES_URL (by default
// the one on 127.0.0.1:5432). PostgreSQL tests fail, never skip, when it cannot be reached.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
)

// DefaultPostgresURL is the server the tests use unless TEST_POSTGRES_URL names another.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the URL of the PostgreSQL server the tests create databases on.
func AdminURL() string {
	if u := os.Getenv("TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLite opens a migrated SQLite database in a new temporary directory and returns it
// with the directory, so that a test can open it again as a restarted gateway would.
func SQLite(tb testing.TB) (*bun.DB, string) {
	tb.Helper()
	dir := tb.TempDir()
	return open(tb, "", dir), dir
}

// PostgresURL creates an empty database for the test, dropped when the test ends, and
// returns its URL.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		tb.Fatalf("dbtest: PostgreSQL is not reachable at %s (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", AdminURL(), err)
	}
	name := "wagate_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", AdminURL())
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("dbtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a migrated database of its own on the test PostgreSQL server.
func Postgres(tb testing.TB) *bun.DB {
	tb.Helper()
	return open(tb, PostgresURL(tb), "")
}

func open(tb testing.TB, dsn, dir string) *bun.DB {
	tb.Helper()
	ctx := context.Background()
	db, closeDB, err := database.Open(ctx, dsn, dir)
	if err != nil {
		tb.Fatalf("dbtest: open: %v", err)
	}
	tb.Cleanup(func() { _ = closeDB() })
	if _, err := database.Migrate(ctx, db); err != nil {
		tb.Fatalf("dbtest: %v", fmt.Errorf("migrate: %w", err))
	}
	return db
}
