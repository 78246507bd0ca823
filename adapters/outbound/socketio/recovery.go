package socketio

import (
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"github.com/zishang520/socket.io/v3/pkg/utils"

	"github.com/wagate/wagate/domain/device"
)

// Connection state recovery, as socket.io-client v4 does it: the server sends a pid in
// the namespace's CONNECT packet and appends an offset to each event; a client that
// reconnects sends both back, and sees `socket.recovered` true when the server answers
// with the same pid. socket.io's own adapter keeps the sessions and packets in memory
// for two minutes. Here the offset is the event's id in the log, so recovery needs
// nothing in memory: any pid is given back, with no packets, and the connection handler
// resumes the listener from its offset like one that sent lastEventId (resume.go). It
// works across a restart, and for as long as the log keeps the events.
//
// socket.io sends a pid to every listener once recovery is on. Only those that opted
// in get offsets (see withOffsets), and without an offset nothing is recovered.

// sessions builds the namespaces' adapters; connecting is Gateway.joinAtConnect.
type sessions struct {
	connecting func(s *socket.Socket, join func(...socket.Room))
}

func (o sessions) New(nsp socket.Namespace) socket.Adapter {
	a := &logAdapter{Adapter: socket.MakeAdapter(), nsp: nsp, connecting: o.connecting}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

// logAdapter is socket.io's in-memory adapter, whose PersistSession keeps nothing,
// with sessions restored from the log, and which joins a listener to its live rooms as
// it connects.
type logAdapter struct {
	socket.Adapter
	nsp        socket.Namespace
	connecting func(s *socket.Socket, join func(...socket.Room))
}

// AddAll adds a socket to rooms. Connecting a socket, socket.io adds it to the
// namespace, joins it to its own room, then sends the client the CONNECT packet: the
// one moment the gateway can join it to more rooms before its client hears that it is
// connected (joinAtConnect).
func (a *logAdapter) AddAll(id socket.SocketId, rooms *types.Set[socket.Room]) {
	if rooms.Len() == 1 && rooms.Has(socket.Room(id)) {
		if s, ok := a.nsp.Sockets().Load(id); ok {
			a.connecting(s, func(live ...socket.Room) {
				rooms.Add(live...)
				a.Adapter.AddAll(id, rooms)
			})
			return
		}
	}
	a.Adapter.AddAll(id, rooms)
}

// RestoreSession gives back the client's pid, for a new socket, when its offset is an
// event id. Its rooms are left to joinAtConnect and resume, after the key check.
func (a *logAdapter) RestoreSession(pid socket.PrivateSessionId, offset string) (*socket.Session, error) {
	if _, err := device.ParseEventID(offset); err != nil || offset == "" || pid == "" {
		return nil, nil // not recovered: the listener connects as a new one
	}
	return &socket.Session{SessionToPersist: &socket.SessionToPersist{
		Sid:   socket.SocketId(utils.Base64Id().GenerateId()),
		Pid:   pid,
		Rooms: types.NewSet[socket.Room](),
	}}, nil
}
