package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/wagate/wagate/domain/device"
)

// Publisher records the events published (their log records), for tests to inspect and wait on. It keeps the
// latest MaxEvents so that a long-running process does not grow without bound.
type Publisher struct {
	mu      sync.Mutex
	events  []device.Record
	changed chan struct{} // closed and replaced on every publish
}

// MaxEvents is how many events a Publisher keeps.
const MaxEvents = 100_000

var _ device.EventPublisher = (*Publisher)(nil)

func NewPublisher() *Publisher {
	return &Publisher{changed: make(chan struct{})}
}

func (p *Publisher) Publish(_ context.Context, r device.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) == MaxEvents {
		p.events = slices.Delete(p.events, 0, MaxEvents/10)
	}
	p.events = append(p.events, r)
	close(p.changed)
	p.changed = make(chan struct{})
	return nil
}

// Events returns a copy of every event published so far, in order.
func (p *Publisher) Events() []device.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Wait blocks until done holds for the events published so far, or ctx ends.
func (p *Publisher) Wait(ctx context.Context, done func([]device.Record) bool) error {
	for {
		p.mu.Lock()
		events, changed := slices.Clone(p.events), p.changed
		p.mu.Unlock()
		if done(events) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
