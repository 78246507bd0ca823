package database_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
)

// TestJournalGroups (on SQLite, where the journal groups): parts queued while a group
// commits go together into the next one; each part's writes are undone alone when it
// fails, and each caller gets its own outcome. The first part holds its group open until the others have queued, so that
// the second group certainly holds them all.
func TestJournalGroups(t *testing.T) {
	t.Parallel()
	db, _ := dbtest.SQLite(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE journal_test (n INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	j := database.NewJournal(db)
	const parts = 40
	errOdd := errors.New("odd parts fail after writing")
	insert := func(n int) func(context.Context, bun.Tx) error {
		return func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO journal_test (n) VALUES (?)", n); err != nil {
				return err
			}
			if n%2 == 1 {
				return fmt.Errorf("part %d: %w", n, errOdd)
			}
			return nil
		}
	}
	running, queued := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- j.Run(ctx, func(ctx context.Context, tx bun.Tx) error {
			close(running)
			<-queued
			return insert(0)(ctx, tx)
		})
	}()
	<-running
	var wg sync.WaitGroup
	errs := make([]error, parts)
	for n := 1; n < parts; n++ {
		wg.Go(func() { errs[n] = j.Run(ctx, insert(n)) })
	}
	for deadline := time.Now().Add(10 * time.Second); j.Queued() < parts-1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d parts queued behind the first group", j.Queued())
		}
	}
	close(queued)
	wg.Wait()
	errs[0] = <-first
	for n, err := range errs {
		if wantFail := n%2 == 1; wantFail != errors.Is(err, errOdd) || (!wantFail && err != nil) {
			t.Fatalf("part %d returned %v", n, err)
		}
	}
	var stored []int
	if err := db.NewSelect().Table("journal_test").Column("n").Order("n").Scan(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != parts/2 {
		t.Fatalf("stored %v, want the %d even parts", stored, parts/2)
	}
	for i, n := range stored {
		if n != 2*i {
			t.Fatalf("stored %v, want the even parts only", stored)
		}
	}
}
