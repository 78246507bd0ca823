package socketio

import (
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// broadcast emits an event of the gateway's (see encodeRaw) to the sockets of nsp in any
// of rooms, each once, as nsp.To(rooms...).Emit does but for what that spends per event
// and per recipient and the gateway does not need: a broadcast operator and room sets per
// event, acknowledgement and volatile handling, and a copy of the encoded packet for every
// recipient (each gets a reader of its own over the same bytes). The packet is encoded
// once, and the engine.io frame with it (what transport.go writes) is shared too. Other
// events go through socket.io.
func broadcast(nsp socket.Namespace, rooms []socket.Room, name string, args ...any) {
	p := &parser.Packet{Type: parser.EVENT, Nsp: nsp.Name(), Data: append([]any{name}, args...)}
	encoded, ok := encodeRaw(p)
	if !ok {
		_ = nsp.To(rooms...).Emit(name, args...)
		return
	}
	// "4", engine.io's message, then the socket.io packet: what the websocket carries.
	opts := &packet.Options{WsPreEncodedFrame: types.NewStringBuffer(append([]byte{'4'}, encoded...))}
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
			if s, ok := nsp.Sockets().Load(id); ok && s.Connected() {
				s.Client().Conn().Write(types.NewStringBuffer(encoded), opts, nil)
			}
		}
	}
}
