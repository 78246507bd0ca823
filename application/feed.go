package application

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Feed hands the events of the log to the publisher once they are committed, in the
// order of their ids, each once. Use cases wake it after each commit; it also looks on
// its own every feedPoll, so that events committed by another process, or while the
// database was failing, still go out.
type Feed struct {
	log  device.EventLog
	pub  device.EventPublisher
	logg *slog.Logger
	wake chan struct{}

	// next is the id of the last event delivered; moved is closed and replaced each time
	// it moves. Only Run delivers.
	mu    sync.Mutex
	next  device.EventID
	moved chan struct{}
	// started is closed once the feed knows where the log ends.
	started chan struct{}
}

// feedPoll is how often the feed looks at the log without being woken; feedBatch is
// how many events it reads at once.
const (
	feedPoll  = time.Second
	feedBatch = 1000
)

func NewFeed(log device.EventLog, pub device.EventPublisher, logger *slog.Logger) *Feed {
	return &Feed{log: log, pub: pub, logg: logger, wake: make(chan struct{}, 1), moved: make(chan struct{}), started: make(chan struct{})}
}

// Started is closed once the feed knows where the log ends: events committed from then
// on are delivered.
func (f *Feed) Started() <-chan struct{} { return f.started }

// Wake tells the feed that events were committed.
func (f *Feed) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, starting after the last event committed before
// it started: earlier ones are for resuming listeners to read back from the log.
func (f *Feed) Run(ctx context.Context) {
	for {
		last, err := f.log.Last(ctx)
		if err == nil {
			f.advance(last)
			break
		}
		f.logg.Error("event feed: find the end of the log", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(feedPoll):
		}
	}
	close(f.started)
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	for {
		if err := f.deliver(ctx); err != nil && ctx.Err() == nil {
			f.logg.Error("event feed: read the log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-t.C:
		}
	}
}

// Flush waits until what the log holds now has been delivered, or ctx ends; shutting
// down, it runs after the sessions have stopped and before listeners are disconnected.
func (f *Feed) Flush(ctx context.Context) error {
	select {
	case <-f.started:
	default:
		return nil // not running: nothing was delivered, nothing is owed
	}
	last, err := f.log.Last(ctx)
	if err != nil {
		return err
	}
	f.Wake()
	for {
		f.mu.Lock()
		next, moved := f.next, f.moved
		f.mu.Unlock()
		if next >= last {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliver publishes every event after the cursor, batch after batch.
func (f *Feed) deliver(ctx context.Context) error {
	for {
		f.mu.Lock()
		after := f.next
		f.mu.Unlock()
		recs, err := f.log.Read(ctx, device.LogQuery{After: after, Limit: feedBatch})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := f.pub.Publish(ctx, r); err != nil {
				f.logg.ErrorContext(ctx, "publish event", "event", r.Name, "id", r.ID, "device", r.DeviceID, "err", err)
			}
		}
		if len(recs) > 0 {
			f.advance(recs[len(recs)-1].ID)
		}
		if len(recs) < feedBatch {
			return nil
		}
	}
}

func (f *Feed) advance(to device.EventID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = to
	close(f.moved)
	f.moved = make(chan struct{})
}
