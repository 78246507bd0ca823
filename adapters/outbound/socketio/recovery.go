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

// sessions builds the namespaces' adapters.
type sessions struct{}

func (sessions) New(nsp socket.Namespace) socket.Adapter {
	a := &logAdapter{Adapter: socket.MakeAdapter()}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

// logAdapter is socket.io's in-memory adapter, whose PersistSession keeps nothing,
// with sessions restored from the log.
type logAdapter struct{ socket.Adapter }

// RestoreSession gives back the client's pid, for a new socket, when its offset is an
// event id. Its rooms are left to the connection handler, after the key check.
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
