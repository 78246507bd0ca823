package socketio

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The websocket transport, registered with the engine in place of its own (see New).
// The engine's writes each packet as its own frame, with its own write system call, and
// builds a gorilla PreparedMessage (a fresh allocation, framed again) for every
// recipient of a broadcast. Profiled on a broadcast to 100 listeners, that was three
// quarters of the server's CPU, and the garbage a third of what remained. It reads with
// a goroutine per connection, blocked in gorilla's reader: with the engine's heartbeat
// timer, two goroutines' stacks per idle listener.
//
// This one queues frames, and writes everything queued for a connection with one call:
// what is queued while a write is under way goes out together. The gateway's events
// reach it framed once for all their recipients (deliver, from broadcast.go), without
// the engine's per-packet machinery; the engine's own packets (Send) are framed as they
// are handed over. It reads a connection only when it has bytes (reader.go). The
// handshake, the packets' meaning and the connection's life stay the engine's.
//
// Writes are made by a flusher (below), a goroutine shared by many connections, as
// non-blocking system calls: a listener costs no goroutine to write to, and a burst to
// many listeners costs no goroutine per listener. A connection whose socket buffer is
// full (a slow reader) gets a writer goroutine of its own, which blocks in its writes,
// until its queue is empty.
//
// gorilla's connection only did the handshake: this transport neither reads nor writes
// through it, and answers pings and closes itself, under the lock of the writes.
type wsTransport struct {
	transports.Transport
	conn   *types.WebSocketConn
	raw    syscall.RawConn // the connection's descriptor, for reads and writes that must not block; nil without one
	out    *flusher
	frames frameParser // what was read and is not yet a whole frame or message
	polled uint64      // its registration with the poller; 0 when none

	// current is whether the engine connection sends through this transport: from the
	// start, or once it upgraded to it from polling (see upgraded). direct is whether
	// the gateway's events may be queued here directly: once the engine has handed
	// over, while current, the packets it had buffered (see Send), so that none is
	// overtaken.
	current, direct atomic.Bool

	// wmu serialises the writes to the connection: batches, and the control frames the
	// reader answers. A flusher that wrote part of a batch hands it, locked, to the
	// writer goroutine that writes the rest.
	wmu sync.Mutex

	mu      sync.Mutex
	queue   [][]byte // frames not yet written, in order; a broadcast's are shared
	packets int      // packets in them
	drains  int      // Send calls among them, each owed a "drain" once written
	state   writeState

	queued atomic.Int64 // packets queued and not yet written (the gateway's guard reads it)
	broken atomic.Bool  // a write failed: the connection is closing
}

type writeState uint8

const (
	idle    writeState = iota // nothing queued
	flagged                   // queued, and listed with the flusher
	writing                   // a writer goroutine of its own writes until the queue is empty
)

// wsBuilder makes wsTransports; it registers under the engine's name for websockets.
type wsBuilder struct {
	transports.WebSocketBuilder
	flushers []*flusher
	next     atomic.Uint32
}

func newWSBuilder(done <-chan struct{}) *wsBuilder {
	b := &wsBuilder{flushers: make([]*flusher, runtime.GOMAXPROCS(0))}
	for i := range b.flushers {
		b.flushers[i] = &flusher{wake: make(chan struct{}, 1)}
		go b.flushers[i].run(done)
	}
	return b
}

func (b *wsBuilder) New(ctx *types.HttpContext) transports.Transport {
	t := &wsTransport{Transport: transports.MakeTransport(), conn: ctx.Websocket,
		out: b.flushers[int(b.next.Add(1))%len(b.flushers)]}
	if c, ok := ctx.Websocket.NetConn().(syscall.Conn); ok {
		t.raw, _ = c.SyscallConn()
	}
	// A websocket that upgrades a polling connection carries its session id; it becomes
	// current when the engine switches to it.
	t.current.Store(!ctx.Query().Has("sid"))
	t.Prototype(t)
	t.Construct(ctx)
	return t
}

// Construct sets t up as the engine's websocket transport does, but for reading.
func (t *wsTransport) Construct(ctx *types.HttpContext) {
	t.Transport.Construct(ctx)
	_ = t.conn.On("error", func(errs ...any) {
		err, _ := errs[0].(error)
		t.OnError("websocket error", err)
	})
	_ = t.conn.Once("close", func(...any) { t.OnClose() })
	t.SetWritable(true)
	t.SetPerMessageDeflate(nil)
	transports.StartReader(t, ctx.TransportReadPermission(), func() { watch(t) })
}

func (t *wsTransport) Name() string { return transports.WEBSOCKET }

func (t *wsTransport) HandlesUpgrades() bool { return true }

// OnClose ends the transport on every path: the client's close, an error, or DoClose.
func (t *wsTransport) OnClose() {
	t.Transport.OnClose()
	_ = t.conn.Close()
	unwatch(t)
}

// DoClose closes the connection; the engine hears of it as when the client closes.
func (t *wsTransport) DoClose(fn types.Callable) {
	if fn != nil {
		fn()
	}
	t.conn.Emit("close")
}

// upgraded is told by the gateway that the engine connection now sends through t. The
// engine then hands over what it buffered during the upgrade, or the next packet it
// sends: Send turns direct delivery on.
func (t *wsTransport) upgraded() { t.current.Store(true) }

// Send frames the engine's packets and queues them. The transport stays writable, so
// that the engine hands every packet over at once and keeps none in a buffer of its
// own: the queue here is the only one, which the gateway's events join in order.
func (t *wsTransport) Send(packets []*packet.Packet) {
	var b []byte
	for _, p := range packets {
		var err error
		if b, err = t.frame(b, p); err != nil {
			go t.failed(err) // the engine holds its locks while it calls Send
			return
		}
	}
	t.enqueue(b, len(packets), 1)
	if t.current.Load() {
		t.direct.Store(true)
	}
}

// deliver queues a frame of the gateway's, shared with its other recipients, if the
// gateway may write to t directly, and returns the packets then waiting.
func (t *wsTransport) deliver(frame []byte) (int64, bool) {
	if !t.direct.Load() {
		return 0, false
	}
	return t.enqueue(frame, 1, 0), true
}

func (t *wsTransport) enqueue(frames []byte, packets, drains int) int64 {
	t.mu.Lock()
	t.queue = append(t.queue, frames)
	t.packets += packets
	t.drains += drains
	n := t.queued.Add(int64(packets))
	list := t.state == idle
	if list {
		t.state = flagged
	}
	t.mu.Unlock()
	if list {
		t.out.add(t)
	}
	return n
}

// take returns what is queued as one buffer, with what done needs to know of it (see
// written); with nothing queued, it sets state to idle.
func (t *wsTransport) take() (b []byte, w written) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch len(t.queue) {
	case 0:
		t.state = idle
		return nil, w
	case 1:
		b = t.queue[0] // written as it is: nothing to join
	default:
		w.pooled = frames.Get().(*[]byte)
		for _, f := range t.queue {
			*w.pooled = append(*w.pooled, f...)
		}
		b = *w.pooled
	}
	w.packets, w.drains = t.packets, t.drains
	clear(t.queue)
	if cap(t.queue) > maxKeptQueue {
		t.queue = nil
	} else {
		t.queue = t.queue[:0]
	}
	t.packets, t.drains = 0, 0
	return b, w
}

// written is what a write takes from the queue: how many packets and Send calls, and
// the pooled buffer they were joined in, if any.
type written struct {
	packets, drains int
	pooled          *[]byte
}

// maxKeptQueue is the largest queue kept for the next batch; a burst's is let go.
const maxKeptQueue = 64

// flush writes what is queued without blocking; what the connection does not take at
// once is left to a writer goroutine of t's own. The flusher calls it.
func (t *wsTransport) flush() {
	if t.broken.Load() {
		return
	}
	b, w := t.take()
	if b == nil {
		return
	}
	if t.raw == nil || !t.wmu.TryLock() {
		t.handOff(b, w, false)
		return
	}
	n, err := t.tryWrite(b)
	switch {
	case err != nil:
		t.wmu.Unlock()
		t.done(w, err)
	case n < len(b):
		t.handOff(b[n:], w, true)
	default:
		t.wmu.Unlock()
		t.done(w, nil)
		t.mu.Lock()
		more := len(t.queue) > 0
		if !more {
			t.state = idle
		}
		t.mu.Unlock()
		if more {
			t.out.add(t)
		}
	}
}

// handOff starts a writer goroutine for t with the rest of a batch, b; locked says
// whether wmu is held already (after a partial write, so that no control frame lands
// inside a frame), which the writer then releases.
func (t *wsTransport) handOff(b []byte, w written, locked bool) {
	t.mu.Lock()
	t.state = writing
	t.mu.Unlock()
	go t.write(b, w, locked)
}

// write writes b, then whatever is queued meanwhile, blocking, until the queue is empty.
func (t *wsTransport) write(b []byte, w written, locked bool) {
	for b != nil {
		if !locked {
			t.wmu.Lock()
		}
		_, err := t.conn.NetConn().Write(b)
		t.wmu.Unlock()
		locked = false
		if !t.done(w, err) {
			return
		}
		b, w = t.take()
	}
}

// done ends a write: its packets are no longer queued, the engine hears of each Send
// call written ("drain", which runs its send callbacks), the buffer goes back to the
// pool. It reports whether the connection can still be written to.
func (t *wsTransport) done(w written, err error) bool {
	if w.pooled != nil && cap(*w.pooled) <= maxPooledFrames {
		*w.pooled = (*w.pooled)[:0]
		frames.Put(w.pooled)
	}
	if err != nil {
		t.failed(err)
		return false
	}
	t.queued.Add(-int64(w.packets))
	for range w.drains {
		t.Emit("drain")
	}
	return true
}

// tryWrite writes what the connection takes of b at once.
func (t *wsTransport) tryWrite(b []byte) (int, error) {
	var n int
	var werr error
	err := t.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				return true // never wait: a full socket is the writer goroutine's
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}

// frames holds the buffers batches are joined in. One past maxPooledFrames, made for an
// exceptional batch, is left to the garbage collector.
var frames = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledFrames = 1 << 20

// frame appends p to b as one websocket frame: as socket.io's adapter encoded it for a
// broadcast, or encoded by the engine's parser.
func (t *wsTransport) frame(b []byte, p *packet.Packet) ([]byte, error) {
	var data types.BufferInterface
	if p.Options != nil && p.Options.WsPreEncodedFrame != nil {
		data = p.Options.WsPreEncodedFrame
	} else {
		var err error
		if data, err = t.Parser().EncodePacket(p, t.SupportsBinary()); err != nil {
			return b, err
		}
	}
	opcode := byte(websocket.BinaryMessage)
	if _, ok := data.(*types.StringBuffer); ok {
		opcode = websocket.TextMessage
	}
	return appendFrame(b, opcode, data.Bytes()), nil
}

// appendFrame appends a final, unmasked frame (what a server sends) to b.
func appendFrame(b []byte, opcode byte, payload []byte) []byte {
	return append(appendHeader(b, opcode, len(payload)), payload...)
}

// appendHeader appends the header of a final, unmasked frame of n bytes to b.
func appendHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
}

// control writes a control frame at once, between batches.
func (t *wsTransport) control(opcode byte, payload []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, err := t.conn.NetConn().Write(appendFrame(make([]byte, 0, 2+len(payload)), opcode, payload))
	return err
}

// failed reports a write error, once, as the engine's transport does: the connection
// closed under the write, or an error, which closes the transport as well.
func (t *wsTransport) failed(err error) {
	if !t.broken.CompareAndSwap(false, true) {
		return
	}
	if errors.Is(err, net.ErrClosed) {
		t.conn.Emit("close")
		return
	}
	t.conn.Emit("error", err)
}

// flusher writes the queues of the connections listed with it, one write each, without
// blocking (see wsTransport). The gateway runs one per processor; each connection is
// given one. Listing a connection wakes the flusher, which runs once the publishing
// goroutine lets it: what a burst queues meanwhile goes out in one write per connection.
type flusher struct {
	wake chan struct{} // one buffered wake-up

	mu   sync.Mutex
	list []*wsTransport
}

func (f *flusher) add(t *wsTransport) {
	f.mu.Lock()
	f.list = append(f.list, t)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run flushes the listed connections until done is closed.
func (f *flusher) run(done <-chan struct{}) {
	var list []*wsTransport
	for {
		select {
		case <-done:
			return
		case <-f.wake:
		}
		f.mu.Lock()
		list, f.list = f.list, list[:0]
		f.mu.Unlock()
		for i, t := range list {
			t.flush()
			list[i] = nil
		}
	}
}
