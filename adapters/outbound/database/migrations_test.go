package database_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
)

// The migration keying kept messages by chat and sender keeps the rows there are, lets
// two senders use one id (not one sender twice), and going back keeps the first of each id.
// The event log's migration, which follows, moves the rows to the messages table.
func TestMessagesBySenderMigration(t *testing.T) {
	t.Parallel()
	for _, open := range []func(t testing.TB) *bun.DB{
		func(t testing.TB) *bun.DB { db, _ := dbtest.SQLite(t); return db },
		dbtest.Postgres,
	} {
		db := open(t)
		dir := "migrations/sqlite/"
		if database.IsPostgres(db) {
			dir = "migrations/postgres/"
		}
		const (
			bySender = "20261201000001_whatsapp_messages_by_sender.tx."
			eventLog = "20261202000001_event_log.tx."
		)
		name := bySender
		run := func(file string) {
			t.Helper()
			sql, err := os.ReadFile(dir + name + file)
			if err != nil {
				t.Fatal(err)
			}
			err = db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
				for stmt := range strings.SplitSeq(string(sql), "--bun:split") {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s%s: %v", dir, file, err)
			}
		}
		t0 := time.Now().UTC()
		insert := func(sender string, at time.Time) error {
			_, err := db.NewInsert().Table("whatsapp_messages").Model(&map[string]any{
				"device_id": "D", "message_id": "M", "chat": "G@g.us", "sender": sender,
				"from_me": false, "content": []byte(sender), "created_at": at,
			}).Exec(context.Background())
			return err
		}
		senders := func() []string {
			t.Helper()
			var s []string
			if err := db.NewSelect().Table("whatsapp_messages").Column("sender").Order("sender").Scan(context.Background(), &s); err != nil {
				t.Fatal(err)
			}
			return s
		}

		name = eventLog
		run("down.sql")
		name = bySender
		run("down.sql") // the schema before
		if err := insert("A@s.whatsapp.net", t0); err != nil {
			t.Fatal(err)
		}
		run("up.sql")
		if got := senders(); len(got) != 1 || got[0] != "A@s.whatsapp.net" {
			t.Fatalf("%s: after the migration the rows are %v, want A's", dir, got)
		}
		if err := insert("B@s.whatsapp.net", t0.Add(time.Second)); err != nil {
			t.Fatalf("%s: another sender's message with the same id: %v", dir, err)
		}
		if err := insert("A@s.whatsapp.net", t0.Add(2*time.Second)); err == nil {
			t.Fatalf("%s: the same sender's message stored twice", dir)
		}
		run("down.sql")
		if got := senders(); len(got) != 1 || got[0] != "A@s.whatsapp.net" {
			t.Fatalf("%s: after going back the rows are %v, want the first one, A's", dir, got)
		}
		run("up.sql")
		name = eventLog
		run("up.sql")
		var moved []string
		if err := db.NewSelect().Table("messages").Column("sender").Scan(context.Background(), &moved); err != nil {
			t.Fatal(err)
		}
		if len(moved) != 1 || moved[0] != "A@s.whatsapp.net" {
			t.Fatalf("%s: the messages table holds %v after the event log's migration, want A's", dir, moved)
		}
	}
}
