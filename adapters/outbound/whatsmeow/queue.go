package whatsmeow

import (
	"sync"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/domain/device"
)

// queue carries one device's news from whatsmeow's event handlers to the SessionHandler,
// in order: a message is handled after the state changes reported before it. A goroutine
// hands the news over while there is some, and ends when the queue is empty: an idle
// session (most of them, with 10,000 devices) keeps no goroutine and no stack for it. It
// is bounded by its producers: state changes come a handful per connection, a message's
// handler waits for its result (handOver) before whatsmeow hands over the next one, and
// receipts, which can come by the thousand, wait for room (waitRoom) before they are
// queued.
type queue struct {
	handle  func(queued)    // hands one item over; called in order, one at a time
	running *sync.WaitGroup // counts the goroutine handing items over

	mu       sync.Mutex
	items    []queued
	room     chan struct{} // closed (and replaced) each time the items are taken
	draining bool          // a goroutine is handing items over
	closed   bool
}

// maxQueued is how many items waitRoom lets wait in the queue (the goroutine handing
// them over may hold as many more, taken and being handed over).
const maxQueued = 1024

// queued is a state change (ev), or a message to convert and report (msg) whose result
// goes to done.
type queued struct {
	ev   device.SessionEvent
	msg  *events.Message
	done chan<- error // buffered: the handler never waits on it
}

func newQueue(handle func(queued), running *sync.WaitGroup) *queue {
	return &queue{handle: handle, running: running, room: make(chan struct{})}
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
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, it)
	if !q.draining {
		// Counted while q.mu is held: close takes it too, so the goroutine is counted
		// before the session can end and Client.Close wait for what runs.
		q.draining = true
		q.running.Go(q.drain)
	}
	return true
}

// drain hands the queued items over until there are none.
func (q *queue) drain() {
	for {
		q.mu.Lock()
		items := q.items
		q.items = nil
		if len(items) == 0 {
			q.draining = false
			q.mu.Unlock()
			return
		}
		close(q.room)
		q.room = make(chan struct{})
		q.mu.Unlock()
		for _, it := range items {
			q.handle(it)
		}
	}
}

// close stops accepting news; what was queued is still handed over.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
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
