// Package socketio is the Socket.io gateway: listeners connect at /ws, to one namespace
// per device (/device/:deviceId) or to / for every device, authenticate with the API
// key, and receive the device events of the gateway contract (docs/socketio.md).
// Clients only listen, so the whole gateway is an outbound adapter: it implements
// device.EventPublisher, fed from the event log.
//
// Every payload carries `eventId`, the event's id in the log (a string). A listener
// resumes where it left off in one of two ways (resume.go):
//   - lastEventId (auth.lastEventId, or the query parameter): every event after it, in
//     order, then live events, with no gap and no duplicate; for any client.
//   - socket.io's connection state recovery, for clients that opt in with
//     auth.recover = true (or ?recover=1): they get a pid on connect and each event's
//     id appended as a last argument, and socket.io-client sends both back when it
//     reconnects. Backed by the log, so it also works across a restart. The opt-in
//     exists because python-socketio passes every argument to the handler.
package socketio

import (
	"cmp"
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// Path is where Socket.io is served.
const Path = "/ws"

// DefaultMaxBuffered is how many events may wait for one slow connection before it is
// disconnected, so that it cannot grow the server's memory without bound.
const DefaultMaxBuffered = 10_000

// MaxPacketBytes bounds what a client may send in one message (a websocket frame or a
// polling request body); past it engine.io closes that connection. Listeners only send
// pings and a namespace connect carrying their key, a few hundred bytes; socket.io's
// default (1 MB) would let every connection make the server buffer a megabyte for nothing.
const MaxPacketBytes = 16 << 10

// The heartbeat and handshake timings, set explicitly rather than inherited from the
// library. A dead peer is noticed within pingInterval + pingTimeout (45 s, what
// socket.io-client expects by default); a client that opened a connection but joins no
// namespace within connectTimeout is dropped, so half-open handshakes do not pile up.
const (
	pingInterval   = 25 * time.Second
	pingTimeout    = 20 * time.Second
	connectTimeout = 10 * time.Second
)

// lookupTimeout bounds every database read the gateway makes for a connecting listener,
// so that a database that hangs holds a connection attempt for that long at most.
const lookupTimeout = 5 * time.Second

// welcomeReads is how many times welcome reads a device whose state keeps changing
// while it reads (see welcome).
const welcomeReads = 3

// DefaultMaxConnectionsPerKey is how many listeners one API key may have at once.
const DefaultMaxConnectionsPerKey = 5_000

// DefaultRevalidateEvery is how often the keys of open connections are checked again:
// the listeners of a key revoked or expired since are closed within this time.
const DefaultRevalidateEvery = 2 * time.Second

// maxFailuresPerConnection is how many namespace connections may fail their key check
// on one engine connection before it is closed: a client cannot try key after key on a
// connection it keeps open (the address's throttle also applies).
const maxFailuresPerConnection = 3

// allDevices is the room of the root namespace's listeners whose key sees every device;
// the others join one room per device of their key (deviceRoom).
const allDevices socket.Room = "all"

func deviceRoom(id device.ID) socket.Room { return socket.Room("device:" + id) }

// Authenticator tells what a presented key allows, counting failures against the
// client's address; apikey.Guard is one.
type Authenticator interface {
	Check(ctx context.Context, secret, remote, via string) (key.Access, error)
}

// ValidKeys tells which keys still let their connections in;
// application.ValidKeysHandler is one.
type ValidKeys interface {
	Handle(ctx context.Context) (map[key.ID]bool, error)
}

// Devices finds devices; a device.Repository is one.
type Devices interface {
	Get(ctx context.Context, id device.ID) (*device.Device, error)
}

// Events reads the event log, for listeners that resume; a device.EventLog is one.
type Events interface {
	Read(ctx context.Context, q device.LogQuery) ([]device.Record, error)
	Last(ctx context.Context) (device.EventID, error)
}

// Observer is told what the gateway does that an operator watches (metrics). Its
// methods are called on hot paths, some under locks: they must return at once.
type Observer interface {
	// ListenerConnected and ListenerDisconnected: a listener joined or left the root
	// namespace (root) or a device's.
	ListenerConnected(root bool)
	ListenerDisconnected(root bool)
	// EventEmitted: an event named name went out to the listeners of its device.
	EventEmitted(name string)
	// SlowListenerCut: a connection that did not keep up was closed.
	SlowListenerCut()
}

type noObserver struct{}

func (noObserver) ListenerConnected(bool)    {}
func (noObserver) ListenerDisconnected(bool) {}
func (noObserver) EventEmitted(string)       {}
func (noObserver) SlowListenerCut()          {}

// Gateway is the Socket.io server and the event publisher that feeds it.
type Gateway struct {
	io          *socket.Server
	handler     http.Handler
	auth        Authenticator
	valid       ValidKeys
	devices     Devices
	events      Events
	log         *slog.Logger
	obs         Observer
	maxBuffered int64
	maxPerKey   int

	// byKey holds the open listeners of each key, for the connection cap and to close
	// them when their key is revoked.
	mu    sync.Mutex
	byKey map[key.ID]map[*socket.Socket]struct{}
	conns sync.Map // engine.Socket -> *connState, from guard until the connection closes
	stop  chan struct{}
	// closed stops the transport's flushers, once Close has drained the connections.
	closed chan struct{}

	origins origins

	// nsps holds, per device with listeners, the namespaces they joined: one, except in
	// a short race where socket.io drops an emptied namespace while a listener is still
	// in its middleware and that listener ends up in the dropped one while the next
	// listener gets a new one. An entry is changed only under the device's stripe
	// lock, after the socket joined, so that the last listener leaving cannot remove
	// a namespace that a new listener has just joined.
	nsps sync.Map // device.ID -> []socket.Namespace
	// stripes order, per device, the events published and the state sent to a
	// listener that just connected (see welcome).
	stripes [256]stripe

	// published is the id of the newest event published, stored under its device's
	// stripe once every listener has been sent it.
	published atomic.Int64
	// pub orders the events published and the hand-over of resuming listeners to live
	// events (see resume); it is taken before a stripe.
	pub    sync.Mutex
	recent ring                         // the newest events published
	fed    bool                         // whether anything was published yet
	ahead  map[*socket.Socket]*listener // resumed past the newest event published (see wait)
}

// connState is what the gateway counts of one engine connection.
type connState struct {
	pending  atomic.Int64 // packets in the engine's buffer, not yet handed to the transport (see guard)
	closing  atomic.Bool  // closed for its backlog (see tooSlow)
	failures atomic.Int32 // failed key checks (see failed)
}

// stripe serializes the devices that hash to it. version counts the state and qr events
// published for them: welcome reads a device outside the lock and compares version
// before and after, to know whether its read may be older than what it would follow.
type stripe struct {
	sync.Mutex
	version uint64
}

var _ device.EventPublisher = (*Gateway)(nil)

// deviceNamespace matches /device/<uuid>, in lower case as device ids are written: one
// name per device, so that one device cannot have two namespaces whose listeners would
// take each other's place in nsps. A regular expression (not a function) makes the
// parent: with a function-matched parent, socket.io's Of() creates a plain namespace
// without middleware for a name nobody has connected to yet.
var deviceNamespace = regexp.MustCompile(`^/device/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Options tunes the gateway.
type Options struct {
	// CORSOrigins are the origins (https://app.example.com) whose browser pages may
	// connect, besides the server's own; "*" allows every origin, without credentials.
	CORSOrigins []string
	MaxBuffered int // DefaultMaxBuffered when 0
	// MaxConnectionsPerKey bounds one key's listeners; DefaultMaxConnectionsPerKey when
	// 0. Handshakes under way are not counted, so a burst may pass it by a few.
	MaxConnectionsPerKey int
	RevalidateEvery      time.Duration // DefaultRevalidateEvery when 0
	// Recent is how many of the newest events are kept in memory, for listeners that
	// resume to catch up without reading the log under a lock; DefaultRecent when 0.
	Recent int
	// Observer is told what the gateway does; nil: nobody.
	Observer Observer
}

// New builds the gateway; events is the log that resuming listeners read.
func New(auth Authenticator, valid ValidKeys, devices Devices, events Events, log *slog.Logger, o Options) *Gateway {
	g := &Gateway{auth: auth, valid: valid, devices: devices, events: events, log: log, maxBuffered: int64(o.MaxBuffered),
		maxPerKey: cmp.Or(o.MaxConnectionsPerKey, DefaultMaxConnectionsPerKey), origins: newOrigins(o.CORSOrigins),
		byKey: map[key.ID]map[*socket.Socket]struct{}{}, stop: make(chan struct{}), closed: make(chan struct{}),
		recent: newRing(cmp.Or(o.Recent, DefaultRecent)), ahead: map[*socket.Socket]*listener{}, obs: o.Observer}
	if g.obs == nil {
		g.obs = noObserver{}
	}
	if g.maxBuffered == 0 {
		g.maxBuffered = DefaultMaxBuffered
	}
	opts := socket.DefaultServerOptions()
	opts.SetPath(Path)
	opts.SetServeClient(false)
	opts.SetCleanupEmptyChildNamespaces(true)
	opts.SetMaxHttpBufferSize(MaxPacketBytes)
	opts.SetPingInterval(pingInterval)
	opts.SetPingTimeout(pingTimeout)
	opts.SetConnectTimeout(connectTimeout)
	if cors := g.origins.cors(); cors != nil {
		opts.SetCors(cors)
	}
	// Connection state recovery from the log (recovery.go): the key is checked again
	// on a recovered connection, like on any other.
	recovery := socket.DefaultConnectionStateRecovery()
	recovery.SetSkipMiddlewares(false)
	recovery.SetMaxDisconnectionDuration(0) // unused: sessions are not kept in memory
	opts.SetConnectionStateRecovery(recovery)
	opts.SetAdapter(sessions{g.joinAtConnect})
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.Polling, newWSBuilder(g.closed))) // transport.go
	opts.SetParser(rawParser{parser.NewParser()})                                                      // encoder.go
	g.io = socket.NewServer(nil, opts)
	g.handler = g.checkOrigin(lettingGo(g.io.ServeHandler(opts))) // hijack.go
	g.io.Engine().On("connection", func(args ...any) { g.guard(args[0].(engine.Socket)) })

	g.io.Use(g.authenticate)
	_ = g.io.On("connection", func(args ...any) { g.rootConnected(args[0].(*socket.Socket)) })
	parent := g.io.Of(deviceNamespace, nil)
	parent.Use(g.authenticateDevice)
	_ = parent.On("connection", func(args ...any) { g.welcome(args[0].(*socket.Socket)) })
	go g.revalidate(cmp.Or(o.RevalidateEvery, DefaultRevalidateEvery))
	return g
}

// Handler serves Socket.io; mount it at Path + "/".
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close disconnects every listener by closing its transport, so that clients see a
// transport close and reconnect to the next server. It must run before the HTTP server
// shuts down: Socket.io owns the hijacked websocket connections.
func (g *Gateway) Close() {
	close(g.stop)
	g.drain(drainTimeout)
	done := make(chan struct{})
	g.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.log.Warn("socket.io did not close within 5s")
	}
	close(g.closed)
}

// drainTimeout bounds how long Close waits for the events already emitted to go out.
const drainTimeout = 2 * time.Second

// drain waits until every connection has written the packets queued for it, or until
// timeout: events published just before Close still reach their listeners. A packet
// waits in the engine's buffer or in our websocket transport's queue (backlog); a
// polling transport is not writable while it answers a poll.
func (g *Gateway) drain(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		busy := 0
		g.conns.Range(func(k, v any) bool {
			if conn := k.(engine.Socket); backlog(conn, v.(*connState)) > 0 || !conn.Transport().Writable() {
				busy++
			}
			return true
		})
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			g.log.Warn("socket.io: closing connections with events not yet sent", "connections", busy)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// authenticate checks the API key of every connection to the root namespace.
func (g *Gateway) authenticate(s *socket.Socket, next func(*socket.ExtendedError)) {
	_, err := g.admit(s)
	next(err)
}

// admit checks the connection's key and its key's connection count, and where it
// resumes from, and keeps them with the socket (a *listener).
func (g *Gateway) admit(s *socket.Socket) (key.Access, *socket.ExtendedError) {
	l, err := resumption(s)
	if err != nil {
		return key.Access{}, socket.NewExtendedError(err.Error(), nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	a, err := g.auth.Check(ctx, apiKey(s), s.Request().Request().RemoteAddr, "socket.io")
	if err != nil {
		g.failed(s.Conn())
		msg := domain.MessageOf(err) // the contract's strings, or the throttle's
		if msg == "" {
			g.log.Error("socket.io: check key", "err", err)
			msg = "Server error"
		}
		return a, socket.NewExtendedError(msg, nil)
	}
	g.mu.Lock()
	full := len(g.byKey[a.KeyID]) >= g.maxPerKey
	g.mu.Unlock()
	if full {
		g.log.Warn("socket.io: connection refused, its key has too many", "key", keyName(a.KeyID), "max", g.maxPerKey)
		return a, socket.NewExtendedError("Too many connections for this API key", nil)
	}
	l.access = a
	s.SetData(l)
	return a, nil
}

// failed counts a failed key check on an engine connection, and closes the connection
// after maxFailuresPerConnection of them.
func (g *Gateway) failed(conn engine.Socket) {
	v, ok := g.conns.Load(conn)
	if !ok {
		return // closed already: nothing to count, and nothing stored that close would not remove
	}
	if v.(*connState).failures.Add(1) == maxFailuresPerConnection {
		g.log.Warn("socket.io: closing a connection that failed its key check repeatedly", "remote", conn.RemoteAddress())
		// After the error packet has gone out: the client is told why first.
		time.AfterFunc(100*time.Millisecond, func() { conn.Close(true) })
	}
}

func keyName(id key.ID) string {
	if id == "" {
		return "API_KEY"
	}
	return id.String()
}

// joinAtConnect joins a listener that does not resume to its live rooms as socket.io
// connects it, with join, which adds its own room too (see logAdapter.AddAll). Joined
// in a "connection" handler, it would miss what is published between the namespace's
// CONNECT packet and the handler, though its client was told it is connected and acts
// on it. Something published between the join and the CONNECT packet reaches the
// client first: socket.io-client keeps it until it has connected.
func (g *Gateway) joinAtConnect(s *socket.Socket, join func(...socket.Room)) {
	l, ok := s.Data().(*listener)
	if !ok || l.resume {
		join() // it joins once it has caught up (resume)
		return
	}
	if l.device == "" { // see live; a device's listener is joined under its stripe's lock
		g.pub.Lock()
		defer g.pub.Unlock()
	}
	l.joined = g.live(s, l, join)
}

// rootConnected counts a root listener, which joined its rooms as it connected (every
// device, or each of its key's devices), or has it resume.
func (g *Gateway) rootConnected(s *socket.Socket) {
	l := s.Data().(*listener)
	g.track(s, l.access.KeyID)
	if l.resume {
		g.resume(s, l)
	}
}

// track counts a listener against its key until it leaves.
func (g *Gateway) track(s *socket.Socket, id key.ID) {
	_ = s.On("disconnect", func(...any) { g.untrack(s, id) })
	g.mu.Lock()
	if g.byKey[id] == nil {
		g.byKey[id] = map[*socket.Socket]struct{}{}
	}
	g.byKey[id][s] = struct{}{}
	g.obs.ListenerConnected(isRoot(s))
	g.mu.Unlock()
	if !s.Connected() { // gone before its disconnect handler was set
		g.untrack(s, id)
	}
}

// untrack stops counting a listener; it may run twice for one (see track).
func (g *Gateway) untrack(s *socket.Socket, id key.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.byKey[id][s]; !ok {
		return
	}
	g.obs.ListenerDisconnected(isRoot(s))
	delete(g.byKey[id], s)
	if len(g.byKey[id]) == 0 {
		delete(g.byKey, id)
	}
}

// isRoot is whether s listens on the root namespace (every device of its key).
func isRoot(s *socket.Socket) bool { return s.Nsp().Name() == "/" }

// revalidate closes, every interval, the listeners whose key was revoked or has expired.
// When the keys cannot be read, connections stay: a database blip must not drop them all.
func (g *Gateway) revalidate(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.mu.Lock()
		scoped := len(g.byKey) > 1 || (len(g.byKey) == 1 && g.byKey[""] == nil)
		g.mu.Unlock()
		if !scoped {
			continue // only the configured key's listeners, which nothing revokes
		}
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		valid, err := g.valid.Handle(ctx)
		cancel()
		if err != nil {
			g.log.Warn("socket.io: cannot check the keys of open connections", "err", err)
			continue
		}
		var gone []*socket.Socket
		g.mu.Lock()
		for id, sockets := range g.byKey {
			if !valid[id] {
				g.log.Info("socket.io: closing the listeners of a revoked or expired key", "key", keyName(id), "listeners", len(sockets))
				for s := range sockets {
					gone = append(gone, s)
				}
			}
		}
		g.mu.Unlock()
		// Outside the lock: disconnecting runs the disconnect handlers. The client is told
		// (io server disconnect) and does not reconnect; its engine connection then
		// closes, or stays without namespaces, where only a valid key gets it anywhere.
		for _, s := range gone {
			s.Disconnect(false)
		}
	}
}

// authenticateDevice checks the key, that the device is in its scope and that the device
// exists, on every connection: the namespace of a device outlives its deletion while
// listeners stay connected.
func (g *Gateway) authenticateDevice(s *socket.Socket, next func(*socket.ExtendedError)) {
	a, xerr := g.admit(s)
	if xerr != nil {
		next(xerr)
		return
	}
	id := deviceID(s.Nsp())
	if err := a.Read(id); err != nil {
		next(socket.NewExtendedError("Device not found", nil)) // as if it did not exist
		return
	}
	if _, err := g.lookup(id); err != nil {
		msg := "Device not found"
		if domain.KindOf(err) != domain.KindNotFound {
			msg = "Server error"
		}
		next(socket.NewExtendedError(msg, nil))
		return
	}
	next(nil)
}

// lookup reads a device, logging failures other than its absence.
func (g *Gateway) lookup(id device.ID) (*device.Device, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	d, err := g.devices.Get(ctx, id)
	if err != nil && domain.KindOf(err) != domain.KindNotFound {
		g.log.Error("socket.io: look up device", "device", id, "err", err)
	}
	return d, err
}

// apiKey finds the key where clients put it: the query (?apiKey=), the handshake's auth
// object ({auth: {apiKey}}), or an apiKey or X-API-Key header.
func apiKey(s *socket.Socket) string {
	if k, ok := s.Handshake().Auth["apiKey"].(string); ok && k != "" {
		return k
	}
	r := s.Request().Request()
	if k := r.URL.Query().Get("apiKey"); k != "" {
		return k
	}
	if k := r.Header.Get("apiKey"); k != "" {
		return k
	}
	return r.Header.Get("X-API-Key")
}

// deviceID is the device of a namespace that deviceNamespace matched: a lower-case
// UUID, which is how device ids are written.
func deviceID(nsp socket.Namespace) device.ID {
	return device.ID(strings.TrimPrefix(nsp.Name(), "/device/"))
}

// welcome counts a listener that just connected to a device and sends it what it
// would otherwise have missed: the device's current state and, while it waits for a
// scan, the current QR code.
//
// The listener must never see a state older than an event it already got. The device
// is read outside the stripe lock (no I/O under a lock: a slow or failing database
// would stall every Publish of the stripe's devices). Once joined (as it connected,
// joinAtConnect), the listener gets every event published; Publish bumps the stripe's
// version, under its lock, for each event the welcome could contradict (state, qr).
// So: take the version when joining, read, and send the read state only if the
// version has not moved, under the lock, so that no event can pass in between. If it
// moved, the listener has already got something newer than the read may be: read
// again, since the application stores a change before publishing it. After
// welcomeReads reads that all raced with new events, send nothing: the listener has
// had those events, which are newer.
//
// A listener that resumes gets what it missed instead (resume).
func (g *Gateway) welcome(s *socket.Socket) {
	id := deviceID(s.Nsp())
	st := g.stripe(id)
	l := s.Data().(*listener)
	g.track(s, l.access.KeyID)
	_ = s.On("disconnect", func(...any) { g.forget(id, s.Nsp()) })
	if l.resume {
		g.resume(s, l)
		return
	}
	if !s.Connected() { // gone already: its disconnect may have run before the handler was set
		g.forget(id, s.Nsp())
		return
	}
	version := l.joined

	for range welcomeReads {
		// Until the feed has published anything, the log's end is where the device's
		// state stands: read before the device, it holds nothing the read state lacks.
		var floor device.EventID
		if g.published.Load() == 0 {
			floor = g.logEnd()
		}
		d, err := g.lookup(id)
		if err != nil {
			// Deleted meanwhile, or the database failed: close the connection (outside
			// the lock: disconnecting runs forget, which takes it). The client
			// reconnects and is told "Device not found", or welcomed once it is back.
			s.Disconnect(true)
			return
		}
		st.Lock()
		if st.version == version {
			// Every event of the device up to published has been sent to the listener
			// or is older than what it read: published is where it would resume from.
			now, last := time.Now(), max(floor, device.EventID(g.published.Load()))
			h := device.Header{DeviceID: id, At: now}
			_ = s.Emit("state", l.args(device.Payload(device.StateChanged{Header: h, Status: d.Status()}, last), last)...)
			if code, expires, ok := d.CurrentQR(now); ok {
				_ = s.Emit("qr", l.args(device.Payload(device.QR{Header: h, Code: code, ExpiresAt: expires}, last), last)...)
			}
			st.Unlock()
			return
		}
		version = st.version
		st.Unlock()
	}
	g.log.Warn("socket.io: device kept changing while a listener connected; it was sent the changes only", "device", id)
}

// logEnd is the id of the newest event in the log, 0 when it cannot be read.
func (g *Gateway) logEnd() device.EventID {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	last, err := g.events.Last(ctx)
	if err != nil {
		g.log.Warn("socket.io: read the end of the event log", "err", err)
	}
	return last
}

// register adds nsp to the device's namespaces; the caller holds the device's stripe.
func (g *Gateway) register(id device.ID, nsp socket.Namespace) {
	nsps := g.namespaces(id)
	if !slices.Contains(nsps, nsp) {
		g.nsps.Store(id, append(slices.Clip(nsps), nsp))
	}
}

// forget drops a device's namespace once its last listener has left.
func (g *Gateway) forget(id device.ID, nsp socket.Namespace) {
	st := g.stripe(id)
	st.Lock()
	defer st.Unlock()
	if nsp.Sockets().Len() > 0 {
		return
	}
	nsps := slices.DeleteFunc(slices.Clone(g.namespaces(id)), func(n socket.Namespace) bool { return n == nsp })
	if len(nsps) == 0 {
		g.nsps.Delete(id)
	} else {
		g.nsps.Store(id, nsps)
	}
}

// namespaces returns the namespaces of the device's listeners. The slice is never
// modified in place: readers hold the stripe lock, writers store a new one.
func (g *Gateway) namespaces(id device.ID) []socket.Namespace {
	v, _ := g.nsps.Load(id)
	nsps, _ := v.([]socket.Namespace)
	return nsps
}

// Publish emits the event to the listeners of its device: those of the device's
// namespace, and those of the root namespace whose key sees the device. It is called
// from one goroutine, in the order of the ids.
func (g *Gateway) Publish(_ context.Context, r device.Record) error {
	nsps := g.publish(r)
	if isDeleted(r) {
		// The device is gone: its listeners are told why, then let go. The server ends
		// the connection, so clients do not try to reconnect. Outside the locks:
		// disconnecting runs forget, which takes the device's.
		for _, nsp := range nsps {
			nsp.DisconnectSockets(false)
		}
	}
	return nil
}

// isDeleted is whether r tells that its device was deleted.
func isDeleted(r device.Record) bool {
	if r.Name != (device.Disconnected{}).Name() {
		return false
	}
	var p struct {
		Reason device.Reason `json:"reason"`
	}
	_ = json.Unmarshal(r.Payload, &p)
	return p.Reason == device.ReasonDeleted
}

// publish hands over the listeners that had resumed ahead of r, sends r and keeps it
// among the recent events; it returns the device's namespaces.
func (g *Gateway) publish(r device.Record) []socket.Namespace {
	g.pub.Lock()
	defer g.pub.Unlock()
	g.release(r)
	nsps := g.emit(r)
	g.recent.add(r)
	g.fed = true
	return nsps
}

// emit sends an event under the device's stripe lock and returns the device's
// namespaces. Emitting only queues the packets (guard bounds the queues). Listeners
// that opted into recovery are in rooms of their own, whose packets carry the offset.
func (g *Gateway) emit(r device.Record) []socket.Namespace {
	id, p, offset := r.DeviceID, rawJSON{r.Payload}, r.ID.String()
	st := g.stripe(id)
	st.Lock()
	defer st.Unlock()
	switch r.Name {
	case (device.StateChanged{}).Name(), (device.QR{}).Name(): // what welcome sends
		st.version++
	}
	nsps := g.namespaces(id)
	room := deviceRoom(id)
	for _, nsp := range nsps {
		g.emitTo(nsp, []socket.Room{room}, r.Name, p)
		g.emitTo(nsp, []socket.Room{withOffsets(room)}, r.Name, p, offset)
	}
	// Root listeners hear the devices their key sees; a socket in both rooms hears it once.
	root := g.io.Sockets()
	g.emitTo(root, []socket.Room{allDevices, room}, r.Name, p)
	g.emitTo(root, []socket.Room{withOffsets(allDevices), withOffsets(room)}, r.Name, p, offset)
	g.obs.EventEmitted(r.Name)
	g.published.Store(int64(r.ID))
	return nsps
}

// emitTo emits to the rooms of nsp that have listeners: encoding a packet for nobody
// costs as much as for one.
func (g *Gateway) emitTo(nsp socket.Namespace, rooms []socket.Room, name string, args ...any) {
	rooms = slices.DeleteFunc(rooms, func(r socket.Room) bool { _, ok := nsp.Adapter().Rooms().Load(r); return !ok })
	if len(rooms) > 0 {
		g.broadcast(nsp, rooms, name, args...) // broadcast.go
	}
}

// rawJSON is a payload as the log keeps it, JSON already, which the parser writes as it
// is: not a []byte, which it would send as a binary attachment.
type rawJSON struct{ b []byte }

func (r rawJSON) MarshalJSON() ([]byte, error) { return r.b, nil }

func (g *Gateway) stripe(id device.ID) *stripe {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return &g.stripes[h.Sum32()%uint32(len(g.stripes))]
}

// guard disconnects a connection whose client does not keep up: packets wait to be
// written (backlog), and past maxBuffered of them the connection is closed rather than
// let them pile up. The client reconnects and gets the current state again, or what it
// missed if it resumes (resume.go).
func (g *Gateway) guard(conn engine.Socket) {
	st := new(connState)
	g.conns.Store(conn, st)
	_ = conn.On("close", func(...any) { g.conns.Delete(conn) })
	_ = conn.On("packetCreate", func(...any) {
		if st.pending.Add(1)+queued(conn) > g.maxBuffered {
			g.tooSlow(conn)
		}
	})
	_ = conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if packets, ok := args[0].([]*packet.Packet); ok {
				st.pending.Add(-int64(len(packets)))
			}
		}
	})
	_ = conn.On("upgrade", func(args ...any) {
		if len(args) > 0 {
			if t, ok := args[0].(*wsTransport); ok {
				t.upgraded()
			}
		}
	})
}

// tooSlow closes a connection over its backlog, once.
func (g *Gateway) tooSlow(conn engine.Socket) {
	v, ok := g.conns.Load(conn)
	if !ok || !v.(*connState).closing.CompareAndSwap(false, true) {
		return
	}
	g.log.Warn("socket.io: closing a connection that does not keep up", "buffered", backlog(conn, v.(*connState)), "remote", conn.RemoteAddress())
	g.obs.SlowListenerCut()
	go conn.Close(true)
}

// backlog is how many packets wait to be written to conn: in the engine's buffer, and
// in the queue of our websocket transport (transport.go), which takes them at once.
func backlog(conn engine.Socket, st *connState) int64 {
	return st.pending.Load() + queued(conn)
}

func queued(conn engine.Socket) int64 {
	if t, ok := conn.Transport().(*wsTransport); ok {
		return t.queued.Load()
	}
	return 0
}

// origins decides which browser pages may connect. Browsers send an Origin header on
// websocket handshakes and on cross-origin polling requests; other clients send none and
// are not concerned (the API key is what protects the gateway).
type origins struct {
	any     bool            // "*": every origin, never with credentials
	allowed map[string]bool // lower-case origins
}

func newOrigins(list []string) origins {
	o := origins{allowed: map[string]bool{}}
	for _, origin := range list {
		if origin == "*" {
			o.any = true
		}
		o.allowed[strings.ToLower(strings.TrimSuffix(origin, "/"))] = true
	}
	return o
}

// cors is socket.io's CORS configuration for the polling transport and its websocket
// origin check, nil when no foreign origin is allowed. It only sees requests that
// checkOrigin let through without their Origin header when they are same-origin.
// Credentials (cookies) are allowed only for a list of origins: with "*", any page could
// make requests carrying the user's cookies.
func (o origins) cors() *types.Cors {
	switch {
	case o.any:
		return &types.Cors{Origin: "*"}
	case len(o.allowed) > 0:
		return &types.Cors{Origin: func(origin string) bool { return o.allowed[strings.ToLower(origin)] }, Credentials: true}
	}
	return nil
}

// checkOrigin refuses requests from browser pages of other origins than the server's
// own and the allowed ones, on every transport, before socket.io sees them. A
// same-origin request is passed on without its Origin header: it needs no CORS, and
// socket.io's websocket origin check only knows the allowed list.
func (g *Gateway) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		switch {
		case origin == "":
		case sameOrigin(origin, r.Host):
			r = r.Clone(r.Context())
			r.Header.Del("Origin")
		case !g.origins.any && !g.origins.allowed[strings.ToLower(origin)]:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
				"code": "forbidden", "message": "Origin not allowed: set CORS_ORIGINS to allow it"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin is whether a browser's Origin names the host it sent the request to. The
// scheme is not compared: behind a TLS-terminating proxy the server cannot know it.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
