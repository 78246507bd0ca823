package socketio

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Reading, for the websocket transport (transport.go). The engine's transport reads
// with a goroutine per connection, blocked in gorilla's reader, whose stack an idle
// listener keeps. This one reads a connection only when it has bytes (poller.go): a
// goroutine then reads what is there, hands over each message whole, and ends.

// frames parses the frames a client sends (RFC 6455, section 5): masked, with control
// frames possibly between the fragments of a message. Whatever is not yet whole is
// kept, and only that: an idle connection keeps nothing.
type frameParser struct {
	pending []byte // the start of a frame not yet whole
	message []byte // the fragments of a message not yet whole
	opcode  byte   // that message's opcode; 0 when none
}

// closeError is a reason to close the connection, with the close code to send.
type closeError struct {
	code int
	text string
}

func (e *closeError) Error() string { return "websocket: " + e.text }

var (
	errProtocol = &closeError{websocket.CloseProtocolError, "protocol error"}
	errTooBig   = &closeError{websocket.CloseMessageTooBig, "message too big"}
)

// feed parses data, which it may change (unmasking in place), and calls handle with
// every message and control frame completed; data messages are handed over in buffers
// of their own. limit bounds a message's length.
func (p *frameParser) feed(data []byte, limit int, handle func(opcode byte, payload []byte) error) error {
	if len(p.pending) > 0 {
		p.pending = append(p.pending, data...)
		data = p.pending
	}
	for {
		fin, opcode, payload, n, err := frame(data, limit)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		data = data[n:]
		if err := p.complete(fin, opcode, payload, limit, handle); err != nil {
			return err
		}
	}
	switch {
	case len(data) == 0:
		p.pending = nil
	case len(p.pending) > 0 && &data[0] == &p.pending[0]:
	default:
		p.pending = append(make([]byte, 0, len(data)), data...)
	}
	return nil
}

// frame reads the frame at the start of data: n is its length, 0 if it is not whole.
func frame(data []byte, limit int) (fin bool, opcode byte, payload []byte, n int, err error) {
	if len(data) < 2 {
		return false, 0, nil, 0, nil
	}
	fin, opcode = data[0]&0x80 != 0, data[0]&0x0f
	if data[0]&0x70 != 0 || data[1]&0x80 == 0 { // an extension's bits, or not masked
		return false, 0, nil, 0, errProtocol
	}
	size, header := uint64(data[1]&0x7f), 2
	switch size {
	case 126:
		if len(data) < 4 {
			return false, 0, nil, 0, nil
		}
		size, header = uint64(binary.BigEndian.Uint16(data[2:])), 4
	case 127:
		if len(data) < 10 {
			return false, 0, nil, 0, nil
		}
		size, header = binary.BigEndian.Uint64(data[2:]), 10
	}
	if opcode&0x08 != 0 && (!fin || size > 125) { // a control frame is whole and short
		return false, 0, nil, 0, errProtocol
	}
	if size > uint64(limit) {
		return false, 0, nil, 0, errTooBig
	}
	end := header + 4 + int(size)
	if len(data) < end {
		return false, 0, nil, 0, nil
	}
	mask, payload := data[header:header+4], data[header+4:end]
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	return fin, opcode, payload, end, nil
}

// complete adds a frame to the message under way, or hands it over.
func (p *frameParser) complete(fin bool, opcode byte, payload []byte, limit int, handle func(byte, []byte) error) error {
	switch opcode {
	case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
		return handle(opcode, payload)
	case websocket.TextMessage, websocket.BinaryMessage:
		if p.opcode != 0 {
			return errProtocol
		}
		if fin {
			return handle(opcode, append(make([]byte, 0, len(payload)), payload...))
		}
		p.opcode, p.message = opcode, append([]byte(nil), payload...)
	case 0: // a continuation
		if p.opcode == 0 {
			return errProtocol
		}
		if len(p.message)+len(payload) > limit {
			return errTooBig
		}
		p.message = append(p.message, payload...)
		if fin {
			opcode, message := p.opcode, p.message
			p.opcode, p.message = 0, nil
			return handle(opcode, message)
		}
	default:
		return errProtocol
	}
	return nil
}

// reads holds the buffers connections are read into.
var reads = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readable reads what the connection has, without blocking, and hands it over; it
// reports whether the connection is still open, to be read again when it has more.
func (t *wsTransport) readable() bool {
	buf := reads.Get().(*[]byte)
	defer reads.Put(buf)
	for {
		var n int
		var rerr error
		if err := t.raw.Read(func(fd uintptr) bool {
			for {
				if n, rerr = syscall.Read(int(fd), *buf); rerr != syscall.EINTR {
					return true // never wait: the poller says when there is more
				}
			}
		}); err != nil {
			rerr = err
		}
		switch {
		case rerr == syscall.EAGAIN:
			return true
		case rerr != nil || n == 0: // an error, or the client closed
			t.conn.Emit("close")
			return false
		}
		if !t.received((*buf)[:n]) {
			return false
		}
	}
}

// readLoop reads a connection with a goroutine of its own, blocked in its reads: for a
// connection without a descriptor, or where the poller is not available.
func (t *wsTransport) readLoop() {
	buf := make([]byte, 4<<10)
	for {
		n, err := t.conn.NetConn().Read(buf)
		if n > 0 && !t.received(buf[:n]) {
			return
		}
		if err != nil {
			t.conn.Emit("close")
			return
		}
	}
}

// received parses data and hands its messages to the engine; it reports whether the
// connection is still open.
func (t *wsTransport) received(data []byte) bool {
	err := t.frames.feed(data, MaxPacketBytes, t.handle) // the engine's limit (see New)
	var ce *closeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ce):
		// As gorilla would: say why, then close, as a transport error.
		_ = t.control(websocket.CloseMessage, websocket.FormatCloseMessage(ce.code, ""))
		t.conn.Emit("error", err)
	}
	t.conn.Emit("close")
	return false
}

// errClosed ends reading once the client closed the websocket.
var errClosed = errors.New("websocket: closed by the client")

func (t *wsTransport) handle(opcode byte, payload []byte) error {
	switch opcode {
	case websocket.TextMessage:
		t.OnData(types.NewStringBuffer(payload))
	case websocket.BinaryMessage:
		t.OnData(types.NewBytesBuffer(payload))
	case websocket.PingMessage:
		if err := t.control(websocket.PongMessage, payload); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	case websocket.CloseMessage: // answered with the same code, then the transport closes
		code := websocket.CloseNoStatusReceived
		if len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
		_ = t.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return errClosed
	}
	return nil
}
