package database

import (
	"context"

	"github.com/uptrace/bun"
)

// MigrateFS lets the tests run migrations of their own.
var MigrateFS = migrateFS

// The journal, for its own test.
var NewJournal = newJournal

func (j *journal) Run(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return j.run(ctx, fn)
}

// Queued is how many parts wait for the next group.
func (j *journal) Queued() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.queue)
}
