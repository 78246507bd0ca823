package database_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
)

const probeMigration = "20300101000001_probe.tx.up.sql"

// crashOnRecord creates a table, then a trigger that makes recording the migration in
// bun_migrations fail: the crash between a migration's statements and its bookkeeping.
var crashOnRecord = map[string]string{
	"sqlite": `CREATE TABLE probe (id INTEGER);
--bun:split
CREATE TRIGGER crash BEFORE INSERT ON bun_migrations BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;`,
	"postgres": `CREATE TABLE probe (id INTEGER);
--bun:split
CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$;
--bun:split
CREATE TRIGGER crash BEFORE INSERT ON bun_migrations FOR EACH ROW EXECUTE FUNCTION crash();`,
}

func TestMigrationAndItsRecordAreOneTransactionSQLite(t *testing.T) {
	t.Parallel()
	testMigrationAndItsRecordAreOneTransaction(t, openSQLite(t), crashOnRecord["sqlite"])
}

func TestMigrationAndItsRecordAreOneTransactionPostgres(t *testing.T) {
	t.Parallel()
	db, closeDB, err := database.Open(context.Background(), dbtest.PostgresURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeDB() })
	testMigrationAndItsRecordAreOneTransaction(t, db, crashOnRecord["postgres"])
}

func testMigrationAndItsRecordAreOneTransaction(t *testing.T, db *bun.DB, crashing string) {
	ctx := context.Background()
	_, err := database.MigrateFS(ctx, db, fstest.MapFS{probeMigration: {Data: []byte(crashing)}})
	if err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("migration whose record fails: %v", err)
	}
	if names := appliedNames(t, db); len(names) != 0 {
		t.Fatalf("recorded after the failure: %v", names)
	}
	// The next start, without the crash, runs the same migration again: its CREATE TABLE
	// succeeds only if the first attempt's was rolled back with the failed record.
	fixed := fstest.MapFS{probeMigration: {Data: []byte("CREATE TABLE probe (id INTEGER);")}}
	applied, err := database.MigrateFS(ctx, db, fixed)
	if err != nil || !slices.Equal(applied, []string{"20300101000001_probe"}) {
		t.Fatalf("next migrate: applied %v, %v", applied, err)
	}
	if names := appliedNames(t, db); !slices.Equal(names, []string{"20300101000001"}) {
		t.Fatalf("recorded %v", names)
	}
	if applied, err := database.MigrateFS(ctx, db, fixed); err != nil || len(applied) != 0 {
		t.Fatalf("migrate once more: applied %v, %v", applied, err)
	}
}

func TestMigrateRefusesNonTransactionalMigrations(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	ctx := context.Background()
	loose := fstest.MapFS{"20300101000001_loose.up.sql": {Data: []byte("CREATE TABLE loose (id INTEGER);")}}
	if _, err := database.MigrateFS(ctx, db, loose); err == nil || !strings.Contains(err.Error(), "not transactional: name it 20300101000001_loose.tx.up.sql") {
		t.Fatalf("non-transactional migration: %v", err)
	}
	var n int
	if err := db.NewRaw("SELECT count(*) FROM sqlite_master WHERE name = 'loose'").Scan(ctx, &n); err != nil || n != 0 {
		t.Fatalf("the refused migration ran: %d tables, %v", n, err)
	}
}

func openSQLite(t *testing.T) *bun.DB {
	db, closeDB, err := database.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeDB() })
	return db
}

func appliedNames(t *testing.T, db *bun.DB) []string {
	var names []string
	if err := db.NewRaw("SELECT name FROM bun_migrations ORDER BY name").Scan(context.Background(), &names); err != nil {
		t.Fatal(err)
	}
	return names
}
