package whatsmeow

import (
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/domain/device"
)

// queue carries one device's news from whatsmeow's event handlers to the goroutine that
// hands it to the SessionHandler, in order. Pushing never blocks for long: whatsmeow
// dispatches events from its connection's loop, and a handler that blocks it makes its
// own queue overflow.
//
// State changes are always accepted: there are a handful per connection. Received
// messages take a slot of a bounded budget; when the budget is used up the message waits
// up to fullWait for a slot and is then dropped (and counted) with a warning.
type queue struct {
	slots    chan struct{} // one per message waiting or being handled
	fullWait time.Duration

	mu     sync.Mutex
	items  []queued
	wake   chan struct{} // signals the consumer that items were added or the queue closed
	closed bool
}

// queued is a state change (ev) or a message to convert and report (msg).
type queued struct {
	ev  device.SessionEvent
	msg *events.Message
}

func newQueue(size int, fullWait time.Duration) *queue {
	return &queue{slots: make(chan struct{}, size), fullWait: fullWait, wake: make(chan struct{}, 1)}
}

// pushState queues a state change; it never blocks and never drops.
func (q *queue) pushState(ev device.SessionEvent) {
	q.push(queued{ev: ev})
}

// pushMessage queues a message, waiting up to fullWait when the queue is full. It reports
// false when the message was dropped.
func (q *queue) pushMessage(m *events.Message) bool {
	select {
	case q.slots <- struct{}{}:
	default:
		t := time.NewTimer(q.fullWait)
		defer t.Stop()
		select {
		case q.slots <- struct{}{}:
		case <-t.C:
			return false
		}
	}
	if !q.push(queued{msg: m}) {
		<-q.slots // closed: the session is over
		return false
	}
	return true
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

// done frees the slot of a message once it has been handled.
func (q *queue) done(it queued) {
	if it.msg != nil {
		<-q.slots
	}
}
