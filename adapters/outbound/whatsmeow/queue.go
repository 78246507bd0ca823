package whatsmeow

import (
	"sync"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/domain/device"
)

// queue carries one device's news from whatsmeow's event handlers to the goroutine that
// hands it to the SessionHandler, in order: a message is handled after the state
// changes reported before it. It is bounded by its producers: state changes come a
// handful per connection, a message's handler waits for its result (handOver) before
// whatsmeow hands over the next one, and receipts, which can come by the thousand, wait
// for room (waitRoom) before they are queued.
type queue struct {
	mu     sync.Mutex
	items  []queued
	wake   chan struct{} // signals the consumer that items were added or the queue closed
	room   chan struct{} // closed (and replaced) each time the consumer takes items
	closed bool
}

// maxQueued is how many items waitRoom lets wait in the queue (the worker may hold as
// many more, taken and being handed over).
const maxQueued = 1024

// queued is a state change (ev), or a message to convert and report (msg) whose result
// goes to done.
type queued struct {
	ev   device.SessionEvent
	msg  *events.Message
	done chan<- error // buffered: the worker never waits on it
}

func newQueue() *queue {
	return &queue{wake: make(chan struct{}, 1), room: make(chan struct{})}
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
		if len(items) > 0 {
			close(q.room)
			q.room = make(chan struct{})
		}
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

// waitRoom waits until fewer than maxQueued items wait in the queue, the queue is
// closed, or stop is closed. whatsmeow's event handler waits there before queueing a
// receipt: while the handler waits, whatsmeow reads nothing more from WhatsApp, which
// keeps what it has not sent.
func (q *queue) waitRoom(stop <-chan struct{}) {
	for {
		q.mu.Lock()
		full, room := len(q.items) >= maxQueued && !q.closed, q.room
		q.mu.Unlock()
		if !full {
			return
		}
		select {
		case <-room:
		case <-stop:
			return
		}
	}
}
