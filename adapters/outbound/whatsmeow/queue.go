package whatsmeow

import (
	"sync"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/domain/device"
)

// queue carries one device's news from whatsmeow's event handlers to the goroutine that
// hands it to the SessionHandler, in order: a message is handled after the state
// changes reported before it. It is bounded by its producers: state changes come a
// handful per connection, and a message's handler waits for its result (handOver)
// before whatsmeow hands over the next one.
type queue struct {
	mu     sync.Mutex
	items  []queued
	wake   chan struct{} // signals the consumer that items were added or the queue closed
	closed bool
}

// queued is a state change (ev), or a message to convert and report (msg) whose result
// goes to done.
type queued struct {
	ev   device.SessionEvent
	msg  *events.Message
	done chan<- error // buffered: the worker never waits on it
}

func newQueue() *queue {
	return &queue{wake: make(chan struct{}, 1)}
}

// pushState queues a state change; it never blocks.
func (q *queue) pushState(ev device.SessionEvent) {
	q.push(queued{ev: ev})
}

// pushMessage queues a message whose result goes to done (buffered); false when the
// queue is closed.
func (q *queue) pushMessage(m *events.Message, done chan<- error) bool {
	return q.push(queued{msg: m, done: done})
}

func (q *queue) push(it queued) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// close stops accepting news; what was queued is still taken.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take waits for queued news and returns all of it, oldest first; ok is false once the
// queue is closed and empty.
func (q *queue) take() (items []queued, ok bool) {
	for {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.mu.Unlock()
		if len(items) > 0 {
			return items, true
		}
		if closed {
			return nil, false
		}
		<-q.wake
	}
}
