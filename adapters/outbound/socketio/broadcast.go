package socketio

import (
	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// broadcast emits an event of the gateway's (see encodeRaw) to the sockets of nsp in any
// of rooms, each once, as nsp.To(rooms...).Emit does but for what that spends per event
// and per recipient and the gateway does not need: a broadcast operator and room sets per
// event, acknowledgement and volatile handling, a copy of the encoded packet for every
// recipient, and the engine's per-packet work. The event is encoded and framed once; the
// frame goes straight into the queue of each recipient on our websocket transport
// (transport.go), and through the engine to the others (polling, or a websocket still
// taking over from polling). Other events go through socket.io.
func (g *Gateway) broadcast(nsp socket.Namespace, rooms []socket.Room, name string, args ...any) {
	p := &parser.Packet{Type: parser.EVENT, Nsp: nsp.Name(), Data: append([]any{name}, args...)}
	// The websocket frame, in one allocation: its header, "4" (engine.io's message),
	// then the socket.io packet. The header's room is reserved, then filled from its end.
	b := make([]byte, maxHeader+1, maxHeader+1+rawLen(p)+maxPunctuation)
	b[maxHeader] = '4'
	b, ok := appendRaw(b, p)
	if !ok {
		_ = nsp.To(rooms...).Emit(name, args...)
		return
	}
	var header [maxHeader]byte
	h := appendHeader(header[:0], websocket.TextMessage, len(b)-maxHeader)
	frame := b[maxHeader-len(h):]
	copy(frame, h)
	var opts *packet.Options // for the engine: the frame's payload, which it shares too

	var seen map[socket.SocketId]struct{} // with several rooms, whom it was sent to
	for _, room := range rooms {
		ids, ok := nsp.Adapter().Rooms().Load(room)
		if !ok {
			continue
		}
		for _, id := range ids.Keys() {
			if len(rooms) > 1 {
				if _, dup := seen[id]; dup {
					continue
				}
				if seen == nil {
					seen = map[socket.SocketId]struct{}{}
				}
				seen[id] = struct{}{}
			}
			s, ok := nsp.Sockets().Load(id)
			if !ok || !s.Connected() {
				continue
			}
			conn := s.Client().Conn()
			if conn.ReadyState() != "open" {
				continue // as socket.io's client drops it
			}
			if t, ok := conn.Transport().(*wsTransport); ok {
				if n, ok := t.deliver(frame); ok {
					if n > g.maxBuffered {
						g.tooSlow(conn)
					}
					continue
				}
			}
			if opts == nil {
				opts = &packet.Options{WsPreEncodedFrame: types.NewStringBuffer(b[maxHeader:])}
			}
			conn.Write(types.NewStringBuffer(b[maxHeader+1:]), opts, nil)
		}
	}
}

// maxHeader is the longest header of a websocket frame a server sends.
const maxHeader = 10
