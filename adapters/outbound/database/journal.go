package database

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// journal commits the transactions that append to the event log in groups. They take
// turns on event_head's row (see the migration): each would wait for the commit of the
// one before, one commit (one fsync) per message. Instead, what queues up while a group
// commits goes into the next group: one transaction, each part in a savepoint of its
// own so that a part that fails is undone alone, and one commit for all. Nothing is
// reported stored before its group has committed.
//
// There is no goroutine of its own: the first caller to find no group under way leads
// one, and hands the rest of the queue to a new leader once its own part is committed.
//
// On SQLite only. There the parts would wait for the file's one writer anyway, and
// grouping stores 1.5 times as many messages per second from 16 devices
// (BenchmarkReceive). On PostgreSQL the parts of a group run one statement after the
// other on one connection, while separate transactions overlap everything but their
// turn on event_head: with a disk that syncs in well under a millisecond, as on our CI
// machine, grouping was 1.25 times slower, so each part has its own transaction there.
type journal struct {
	db      *bun.DB
	grouped bool

	mu      sync.Mutex
	queue   []*part
	leading bool
}

// part is one caller's transaction.
type part struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	err  error
	done chan struct{}
}

// maxGroup bounds a group: how long its transaction holds event_head's row, and how
// many callers one failed commit sends back.
const maxGroup = 64

// groupTimeout bounds one group's transaction.
const groupTimeout = 30 * time.Second

func newJournal(db *bun.DB) *journal { return &journal{db: db, grouped: !IsPostgres(db)} }

// run runs fn in a transaction shared with other callers, and returns once that
// transaction has committed (nil) or fn's part has been undone (fn's error, or the
// commit's).
func (j *journal) run(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if !j.grouped {
		return j.db.RunInTx(ctx, nil, fn)
	}
	p := &part{ctx: ctx, fn: fn, done: make(chan struct{})}
	j.mu.Lock()
	j.queue = append(j.queue, p)
	lead := !j.leading
	j.leading = true
	j.mu.Unlock()
	if lead {
		j.lead()
	}
	<-p.done
	return p.err
}

// lead commits the next group, then lets a new leader take what queued meanwhile.
func (j *journal) lead() {
	j.mu.Lock()
	n := min(len(j.queue), maxGroup)
	group := j.queue[:n:n]
	j.queue = j.queue[n:]
	j.mu.Unlock()

	j.commit(group)

	j.mu.Lock()
	more := len(j.queue) > 0
	j.leading = more
	j.mu.Unlock()
	if more {
		go j.lead()
	}
}

func (j *journal) commit(group []*part) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	err := j.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if len(group) == 1 {
			p := group[0]
			p.err = p.fn(partContext{ctx, p.ctx}, tx)
			return p.err
		}
		for _, p := range group {
			if p.err = p.ctx.Err(); p.err != nil {
				continue // given up while queued
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT part"); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			if p.err = p.fn(partContext{ctx, p.ctx}, tx); p.err != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT part"); err != nil {
					return fmt.Errorf("undo a failed part: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT part"); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	for _, p := range group {
		if p.err == nil {
			p.err = err // the commit failed: nothing of the group is stored
		}
		close(p.done)
	}
}

// partContext runs a part under its group's deadline, with its caller's values (the
// fence of its lease, say): the caller's cancellation must not break the group's
// transaction.
type partContext struct {
	context.Context
	values context.Context
}

func (c partContext) Value(key any) any { return c.values.Value(key) }
