package socketio

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The websocket transport, registered with the engine in place of its own (see New).
// The engine's writes each packet of a batch as its own frame, with its own write
// system call, and builds a gorilla PreparedMessage (a fresh allocation, framed again)
// for every recipient of a broadcast. Profiled on a broadcast to 100 listeners, that was
// three quarters of the server's CPU, and the garbage a third of what remained.
//
// This one frames every packet the engine hands over at once into one buffer and writes
// it with one call: the packets queued while a write was under way go out together. A
// broadcast's packet is encoded once, by socket.io's adapter, which hands every
// recipient the same bytes (packet.Options.WsPreEncodedFrame); they are copied behind a
// header of a few bytes, never encoded again. Reading, closing and the rest stay the
// engine's: its transport is embedded, and only Send is replaced.
//
// Writes go to the connection under the websocket, so gorilla must not write at the same
// time: the pings and closes it would answer on its own are answered here, under the
// same lock. (It still writes a close frame itself on a protocol error, on a connection
// that is being dropped.)
type wsTransport struct {
	transports.Websocket
	conn *types.WebSocketConn

	// wmu serialises the writes to the connection: batches, and the control frames the
	// reader answers.
	wmu sync.Mutex

	mu      sync.Mutex
	queue   [][]*packet.Packet // batches handed over by Send and not yet written
	writing bool               // a writer goroutine runs; it exits once queue is empty
}

// wsBuilder makes wsTransports; it registers under the engine's name for websockets.
type wsBuilder struct{ transports.WebSocketBuilder }

func (wsBuilder) New(ctx *types.HttpContext) transports.Transport {
	t := &wsTransport{Websocket: transports.MakeWebSocket(), conn: ctx.Websocket}
	t.Prototype(t)
	// Before the engine's reader starts (in Construct), which calls these.
	ctx.Websocket.SetPingHandler(t.pong)
	ctx.Websocket.SetCloseHandler(t.closed)
	t.Construct(ctx)
	return t
}

// Send queues the packets for the writer, starting it when none runs. The engine calls
// it only while the transport is writable, and gathers what comes meanwhile.
func (t *wsTransport) Send(packets []*packet.Packet) {
	t.SetWritable(false)
	t.mu.Lock()
	t.queue = append(t.queue, packets)
	if t.writing {
		t.mu.Unlock()
		return
	}
	t.writing = true
	t.mu.Unlock()
	go t.write()
}

// write writes the queued batches, all of them with one call, until there are none
// left. A goroutine runs only while there is something to write: an idle listener costs
// none. After each write it tells the engine, per batch, that the batch is out
// ("drain", which runs the batch's send callbacks) and that it may send more ("ready").
func (t *wsTransport) write() {
	// Let the publisher go on first: what it queues meanwhile goes out in this write.
	// Measured on one core, a burst to 1,000 listeners took half the CPU. (The batches
	// after the first gather while the one before is written.)
	runtime.Gosched()
	for {
		t.mu.Lock()
		batches := t.queue
		t.queue = nil
		if len(batches) == 0 {
			t.writing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()

		buf := frames.Get().(*[]byte)
		var err error
		if *buf, err = t.frameAll((*buf)[:0], batches); err == nil {
			t.wmu.Lock()
			_, err = t.conn.NetConn().Write(*buf)
			t.wmu.Unlock()
		}
		if cap(*buf) <= maxPooledFrames {
			frames.Put(buf)
		}
		if err != nil {
			t.failed(err)
		}
		for range batches {
			t.Emit("drain")
		}
		t.SetWritable(true)
		t.Emit("ready")
	}
}

// frames holds the buffers batches are framed into. One past maxPooledFrames, made for
// an exceptional batch, is left to the garbage collector.
var frames = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledFrames = 1 << 20

// frameAll appends the packets of every batch to b.
func (t *wsTransport) frameAll(b []byte, batches [][]*packet.Packet) ([]byte, error) {
	for _, packets := range batches {
		for _, p := range packets {
			var err error
			if b, err = t.frame(b, p); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

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
	b = append(b, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// control writes a control frame at once, between batches.
func (t *wsTransport) control(opcode byte, payload []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, err := t.conn.NetConn().Write(appendFrame(make([]byte, 0, 2+len(payload)), opcode, payload))
	return err
}

// pong answers a websocket ping, as gorilla's own handler would.
func (t *wsTransport) pong(data string) error {
	if err := t.control(websocket.PongMessage, []byte(data)); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// closed answers a close frame with one, as gorilla's own handler would; the reader
// then returns a *websocket.CloseError and the engine closes the transport.
func (t *wsTransport) closed(code int, _ string) error {
	_ = t.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
	return nil
}

// failed reports a write error as the engine's transport does: the connection closed
// under the write, or an error, which closes the transport as well.
func (t *wsTransport) failed(err error) {
	if errors.Is(err, net.ErrClosed) {
		t.conn.Emit("close")
		return
	}
	t.conn.Emit("error", err)
}
