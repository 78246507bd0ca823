package application

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Feed hands the events of the log to the publisher once they are committed, in the
// order of their ids, each once. Use cases wake it after each commit; it also looks on
// its own every Poll, so that events committed by another process, or while the
// database was failing, still go out.
//
// With a Relay, instances that share the log wake each other: after delivering what a
// local commit woke it for, the feed announces it, and an announcement from another
// instance pokes the feed, which reads the log. Only local wakes are announced, so that
// announcements do not echo between instances.
type Feed struct {
	// Poll is how often the feed looks at the log without being woken, DefaultFeedPoll
	// when 0; Relay, when not nil, carries wakes between instances. Set them before Run.
	Poll  time.Duration
	Relay Relay

	log  device.EventLog
	pub  device.EventPublisher
	logg *slog.Logger
	wake chan struct{}
	// local is whether a use case woke the feed since it last began delivering: what it
	// delivers next is announced.
	local atomic.Bool

	// next is the id of the last event delivered; moved is closed and replaced each time
	// it moves. Only Run delivers.
	mu    sync.Mutex
	next  device.EventID
	moved chan struct{}
	// started is closed once the feed knows where the log ends.
	started chan struct{}
}

// Relay carries, between the instances that share the event log, the news that events
// were committed; the events themselves stay in the log, which each instance reads.
type Relay interface {
	// Announce tells the other instances that events up to last were committed here. It
	// returns at once: announcements go out in the background, where the newest
	// supersedes those not yet sent.
	Announce(last device.EventID)
	// Run sends the announcements and calls wake for those of other instances, and once
	// each time it reaches the relay again after losing it, until ctx ends.
	Run(ctx context.Context, wake func())
}

// DefaultFeedPoll is how often the feed looks at the log without being woken; feedBatch
// is how many events it reads at once.
const (
	DefaultFeedPoll = time.Second
	feedBatch       = 1000
)

func NewFeed(log device.EventLog, pub device.EventPublisher, logger *slog.Logger) *Feed {
	return &Feed{log: log, pub: pub, logg: logger, wake: make(chan struct{}, 1), moved: make(chan struct{}), started: make(chan struct{})}
}

// Started is closed once the feed knows where the log ends: events committed from then
// on are delivered.
func (f *Feed) Started() <-chan struct{} { return f.started }

// Wake tells the feed that events were committed here; the feed announces them to the
// other instances once delivered.
func (f *Feed) Wake() {
	f.local.Store(true)
	f.Poke()
}

// Poke tells the feed that events may have been committed elsewhere: it reads the log
// without announcing anything.
func (f *Feed) Poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Feed) poll() time.Duration { return cmp.Or(f.Poll, DefaultFeedPoll) }

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
		case <-time.After(f.poll()):
		}
	}
	close(f.started)
	if f.Relay != nil {
		go f.Relay.Run(ctx, f.Poke)
	}
	t := time.NewTicker(f.poll())
	defer t.Stop()
	for {
		// Taken before reading the log: a wake that comes later is the next round's.
		local := f.local.Swap(false)
		err := f.deliver(ctx)
		if err != nil && ctx.Err() == nil {
			f.logg.Error("event feed: read the log", "err", err)
		}
		switch {
		case local && err != nil:
			f.local.Store(true) // announce once what was committed here is delivered
		case local && f.Relay != nil:
			f.mu.Lock()
			last := f.next
			f.mu.Unlock()
			f.Relay.Announce(last)
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

// Position is where the feed stands: the id of the last event it delivered, and of the
// newest event in the log. Their difference is how far listeners are behind.
func (f *Feed) Position(ctx context.Context) (delivered, newest device.EventID, err error) {
	f.mu.Lock()
	delivered = f.next
	f.mu.Unlock()
	newest, err = f.log.Last(ctx)
	return delivered, newest, err
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
