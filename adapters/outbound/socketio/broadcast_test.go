package socketio

import (
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// A socket in several of the rooms gets the event once; an event that is not the
// gateway's own goes through socket.io and arrives all the same.
func TestBroadcastSendsOncePerSocket(t *testing.T) {
	t.Parallel()
	g, l, id := servedListener(t)
	nsps := g.namespaces(id)
	if len(nsps) != 1 || nsps[0].Sockets().Len() != 1 {
		t.Fatalf("namespaces %v", nsps)
	}
	nsp := nsps[0]
	nsp.Sockets().Range(func(_ socket.SocketId, s *socket.Socket) bool { s.Join("extra"); return true })
	rooms := []socket.Room{deviceRoom(id), "extra"}

	g.broadcast(nsp, rooms, "message", rawJSON{[]byte(`{"n":1}`)})
	g.broadcast(nsp, rooms, "message", map[string]any{"n": 2})
	g.broadcast(nsp, rooms, "message", rawJSON{[]byte(`{"n":3}`)}, "3")
	for _, want := range []float64{1, 2, 3} {
		name, data, offset, _ := l.eventWithOffset()
		if name != "message" || data["n"] != want {
			t.Fatalf("got %s %v, want message %v once", name, data, want)
		}
		if want == 3 && offset != "3" {
			t.Fatalf("offset %q, want 3", offset)
		}
	}
}
