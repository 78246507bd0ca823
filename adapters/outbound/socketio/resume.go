package socketio

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// DefaultRecent is how many of the newest events the gateway keeps in memory.
const DefaultRecent = 10_000

// replayBatch is how many events a resuming listener is read from the log and sent at
// once, at most.
const replayBatch = 1000

// handOvers bounds how many times a resuming listener reads the log again because the
// events published meanwhile were more than the recent ones kept, or than one batch: a
// listener that cannot catch up is closed, as a slow one is (see guard).
const handOvers = 10

// drainWait bounds how long a resuming listener may take to read what it was sent
// before the next batch: as long as a dead peer takes to be noticed.
const drainWait = pingInterval + pingTimeout

// listener is what the gateway keeps with a socket: what its key allows, whether it
// gets the events' ids as offsets, and where it resumes from.
type listener struct {
	access  key.Access
	device  device.ID // the device of its namespace, "" at the root
	offsets bool      // opted into connection state recovery: events end with their id

	resume bool
	// after is the id of the last event it was sent from the log. read is the newest
	// event published before a read of the log that reached the end: it has every
	// event of its scope up to max(after, read). Only its resume touches them, then
	// publish under Gateway.pub.
	after, read device.EventID
	deleted     bool // its device was deleted: it is let go once caught up

	joined uint64 // its device's stripe version when it joined, as it connected (see welcome)
}

// errLastEventID is what a listener that sent a malformed lastEventId is told.
var errLastEventID = errors.New("Invalid lastEventId: send the eventId of the last event received, a string of digits")

// resumption reads a connecting listener's handshake: whether it opted into
// connection state recovery (auth.recover or ?recover=1), and where it resumes from,
// the offset of a recovered session or lastEventId (auth, then query). An empty
// lastEventId is the same as none.
func resumption(s *socket.Socket) (*listener, error) {
	auth, query := s.Handshake().Auth, s.Request().Request().URL.Query()
	l := &listener{offsets: auth["recover"] == true || query.Get("recover") == "1" || s.Recovered()}
	if deviceNamespace.MatchString(s.Nsp().Name()) {
		l.device = deviceID(s.Nsp())
	}
	var cursor string
	switch v := auth["lastEventId"].(type) {
	case string:
		cursor = v
	case float64: // a number, as a client may send it: ParseEventID refuses fractions
		cursor = strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		cursor = query.Get("lastEventId")
	default:
		return nil, errLastEventID
	}
	if s.Recovered() {
		cursor, _ = auth["offset"].(string) // RestoreSession checked it
	}
	if cursor == "" {
		return l, nil
	}
	id, err := device.ParseEventID(cursor)
	if err != nil {
		return nil, errLastEventID
	}
	l.resume, l.after = true, id
	return l, nil
}

// rooms are the rooms of the live events the listener hears (see emit).
func (l *listener) rooms() []socket.Room {
	var rooms []socket.Room
	switch {
	case l.device != "":
		rooms = []socket.Room{deviceRoom(l.device)}
	case l.access.AllDevices():
		rooms = []socket.Room{allDevices}
	default:
		for _, id := range l.access.Devices() {
			rooms = append(rooms, deviceRoom(id))
		}
	}
	if l.offsets {
		for i, r := range rooms {
			rooms[i] = withOffsets(r)
		}
	}
	return rooms
}

// withOffsets is the room of room's listeners that get each event's id as its last
// argument, the offset of connection state recovery. The others must not: python-socketio
// passes every argument to the handler, and `def on_qr(data)` would fail.
func withOffsets(room socket.Room) socket.Room { return "offsets:" + room }

// scope is what the listener hears of the log: its device, or its key's devices (nil:
// every device).
func (l *listener) scope() []device.ID {
	if l.device != "" {
		return []device.ID{l.device}
	}
	return l.access.Devices()
}

func (l *listener) sees(id device.ID) bool {
	if l.device != "" {
		return id == l.device
	}
	return l.access.Sees(id)
}

// args are an event's arguments for the listener: its payload, and its id if it
// takes offsets.
func (l *listener) args(payload any, id device.EventID) []any {
	if l.offsets {
		return []any{payload, id.String()}
	}
	return []any{payload}
}

// send sends one event of the log to a resuming listener.
func (g *Gateway) send(s *socket.Socket, l *listener, r device.Record) {
	_ = s.Emit(r.Name, l.args(rawJSON{r.Payload}, r.ID)...)
	l.after = r.ID
	l.deleted = l.deleted || (l.device != "" && isDeleted(r))
}

// live makes s hear live events, joining it to its rooms with join (s.Join, or see
// joinAtConnect), so that nothing is published meanwhile: a root listener's under
// g.pub, which the caller holds, a device's listener's under its stripe's lock, which
// Publish holds as it emits the device's events. For a device's listener, it returns
// the stripe's version at the join (see welcome).
func (g *Gateway) live(s *socket.Socket, l *listener, join func(...socket.Room)) uint64 {
	if l.device == "" {
		join(l.rooms()...)
		return 0
	}
	st := g.stripe(l.device)
	st.Lock()
	defer st.Unlock()
	if !s.Connected() { // its disconnect (forget) may have run already
		return st.version
	}
	g.register(l.device, s.Nsp())
	join(l.rooms()...)
	return st.version
}

// resume sends a listener that reconnected every event of its scope after its cursor,
// in order, then live events, with none missed or sent twice. Until then it is in no
// room, so live events pass it by. The log is read outside any lock, batch after
// batch, as fast as the listener takes them; then handOver, under g.pub, sends what
// was published meanwhile from the recent events in memory and joins the live rooms.
func (g *Gateway) resume(s *socket.Socket, l *listener) {
	_ = s.On("disconnect", func(...any) {
		g.pub.Lock()
		delete(g.ahead, s)
		g.pub.Unlock()
	})
	go g.catchUp(s, l)
}

func (g *Gateway) catchUp(s *socket.Socket, l *listener) {
	for range handOvers {
		if !g.replay(s, l) {
			return
		}
		done, deleted := g.handOver(s, l)
		if deleted { // as Publish does, outside the locks
			s.Disconnect(false)
		}
		if done {
			return
		}
	}
	g.log.Warn("socket.io: closing a resuming listener that does not catch up with live events", "remote", s.Conn().RemoteAddress())
	s.Disconnect(true)
}

// batch is how many events a resuming listener is sent at once: a fraction of what
// may wait for it, so that catching up never gets it closed for being slow.
func (g *Gateway) batch() int {
	return int(max(1, min(replayBatch, g.maxBuffered/4)))
}

// replay sends the log's events after l.after until the end of the log, and reports
// whether the listener is still there. A listener that cannot be read for, or that does
// not take its events, is closed; it reconnects and resumes again.
func (g *Gateway) replay(s *socket.Socket, l *listener) bool {
	n := g.batch()
	for {
		if !g.drained(s, n) {
			s.Disconnect(true)
			return false
		}
		published := device.EventID(g.published.Load())
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		recs, err := g.events.Read(ctx, device.LogQuery{After: l.after, Devices: l.scope(), Limit: n})
		cancel()
		if err != nil {
			g.log.Error("socket.io: read the event log for a resuming listener", "err", err)
			s.Disconnect(true)
			return false
		}
		for _, r := range recs {
			g.send(s, l, r)
		}
		if len(recs) < n {
			l.read = published
			return true
		}
	}
}

// drained waits until the connection of s has room for n more packets, and reports
// false if it does not within drainWait, or is gone, or the gateway closes.
func (g *Gateway) drained(s *socket.Socket, n int) bool {
	v, ok := g.conns.Load(s.Conn())
	if !ok {
		return false
	}
	deadline := time.Now().Add(drainWait)
	for backlog(s.Conn(), v.(*connState))+int64(n) > g.maxBuffered/2 {
		if !s.Connected() || time.Now().After(deadline) {
			return false
		}
		select {
		case <-g.stop:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return s.Connected()
}

// handOver ends a resume under g.pub, with no I/O: it sends what was published since
// the listener's last read of the log from the recent events, then joins it to the live
// rooms. It reports false, for the caller to read the log again, when the recent events
// do not reach back that far or are more than a batch. A listener that the log took
// past the newest event published waits for the feed to catch up (see release). It
// also reports whether the listener was told that its device was deleted: once in
// ahead, l is release's.
func (g *Gateway) handOver(s *socket.Socket, l *listener) (done, deleted bool) {
	g.pub.Lock()
	defer g.pub.Unlock()
	if !s.Connected() {
		return true, false
	}
	if !g.fed || l.after > device.EventID(g.published.Load()) {
		g.ahead[s] = l
		return true, l.deleted
	}
	missed, ok := g.recent.after(max(l.after, l.read), l.sees, g.batch())
	if !ok {
		return false, l.deleted
	}
	for _, r := range missed {
		g.send(s, l, r)
	}
	g.live(s, l, s.Join)
	return true, l.deleted
}

// release joins to the live rooms, before r is sent, the listeners that resumed up to
// an event before it; the caller holds g.pub. The events published before the first
// one were committed before the feed started, and it never publishes them: a listener
// that could have missed some reads the log again.
func (g *Gateway) release(r device.Record) {
	for s, l := range g.ahead {
		if l.after >= r.ID {
			continue // it has r already: the feed has not caught up with the log it read
		}
		delete(g.ahead, s)
		if !g.fed && l.after < r.ID-1 {
			go g.catchUp(s, l)
			continue
		}
		g.live(s, l, s.Join)
	}
}

// ring keeps the newest events published, oldest first.
type ring struct {
	buf     []device.Record
	start   int // index of the oldest
	n       int
	floor   device.EventID // every event published after it is in buf
	started bool
}

func newRing(size int) ring { return ring{buf: make([]device.Record, size)} }

func (r *ring) at(i int) device.Record { return r.buf[(r.start+i)%len(r.buf)] }

func (r *ring) add(rec device.Record) {
	if !r.started {
		r.floor, r.started = rec.ID-1, true
	}
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = rec
		r.n++
		return
	}
	r.floor = r.buf[r.start].ID
	r.buf[r.start] = rec
	r.start = (r.start + 1) % len(r.buf)
}

// after returns the events after id that sees selects, or false if the ring does not
// reach back to id or they are more than limit.
func (r *ring) after(id device.EventID, sees func(device.ID) bool, limit int) ([]device.Record, bool) {
	if id < r.floor {
		return nil, false
	}
	var out []device.Record
	for i := sort.Search(r.n, func(i int) bool { return r.at(i).ID > id }); i < r.n; i++ {
		if rec := r.at(i); sees(rec.DeviceID) {
			if len(out) == limit {
				return nil, false
			}
			out = append(out, rec)
		}
	}
	return out, true
}
