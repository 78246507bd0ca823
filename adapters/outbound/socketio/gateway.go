// Package socketio is the Socket.io gateway: listeners connect at /ws, to one namespace
// per device (/device/:deviceId) or to / for every device, authenticate with the API
// key, and receive the device events of the gateway contract
// (shared/spec/websocket-gateway.md). Clients only listen, so the whole gateway is an
// outbound adapter: it implements device.EventPublisher.
package socketio

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
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

// Devices finds devices; a device.Repository is one.
type Devices interface {
	Get(ctx context.Context, id device.ID) (*device.Device, error)
}

// Authenticator tells what a presented key allows, counting failures against the
// client's address; apikey.Guard is one.
type Authenticator interface {
	Check(ctx context.Context, secret, remote, via string) (key.Access, error)
}

// Gateway is the Socket.io server and the event publisher that feeds it.
type Gateway struct {
	io          *socket.Server
	handler     http.Handler
	auth        Authenticator
	devices     Devices
	log         *slog.Logger
	maxBuffered int64

	// nsps holds the namespace of each device that has listeners. It is filled by the
	// auth middleware before the socket joins, so that no event can slip between the
	// join and the registration, and emptied when the last listener leaves.
	nsps sync.Map // device.ID -> socket.Namespace
	// locks order, per device, the events published and the state sent to a listener
	// that just connected: the listener sees the state, then only newer events.
	locks [256]sync.Mutex
}

var _ device.EventPublisher = (*Gateway)(nil)

// deviceNamespace matches /device/<uuid>. A regular expression (not a function) makes
// the parent: with a function-matched parent, socket.io's Of() creates a plain namespace
// without middleware for a name nobody has connected to yet.
var deviceNamespace = regexp.MustCompile(`^/device/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Options tunes the gateway.
type Options struct {
	CORSOrigins []string // origins allowed for polling from browsers; empty: same origin only
	MaxBuffered int      // DefaultMaxBuffered when 0
}

// New builds the gateway.
func New(auth Authenticator, devices Devices, log *slog.Logger, o Options) *Gateway {
	g := &Gateway{auth: auth, devices: devices, log: log, maxBuffered: int64(o.MaxBuffered)}
	if g.maxBuffered == 0 {
		g.maxBuffered = DefaultMaxBuffered
	}
	opts := socket.DefaultServerOptions()
	opts.SetPath(Path)
	opts.SetServeClient(false)
	opts.SetCleanupEmptyChildNamespaces(true)
	if len(o.CORSOrigins) > 0 {
		origins := make([]any, len(o.CORSOrigins))
		for i, origin := range o.CORSOrigins {
			origins[i] = origin
		}
		opts.SetCors(&types.Cors{Origin: origins, Credentials: true})
	}
	g.io = socket.NewServer(nil, opts)
	g.handler = g.io.ServeHandler(opts)
	g.io.Engine().On("connection", func(args ...any) { g.guard(args[0].(engine.Socket)) })

	g.io.Use(g.authenticate)
	parent := g.io.Of(deviceNamespace, nil)
	parent.Use(g.authenticateDevice)
	_ = parent.On("connection", func(args ...any) { g.welcome(args[0].(*socket.Socket)) })
	return g
}

// Handler serves Socket.io; mount it at Path + "/".
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close disconnects every listener by closing its transport, so that clients see a
// transport close and reconnect to the next server. It must run before the HTTP server
// shuts down: Socket.io owns the hijacked websocket connections.
func (g *Gateway) Close() {
	done := make(chan struct{})
	g.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.log.Warn("socket.io did not close within 5s")
	}
}

// authenticate checks the API key of every connection, on every namespace.
func (g *Gateway) authenticate(s *socket.Socket, next func(*socket.ExtendedError)) {
	if _, err := g.check(s); err != nil {
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	next(nil)
}

// authenticateDevice checks the key and that the device exists, on every connection: the
// namespace of a device outlives its deletion while listeners stay connected.
func (g *Gateway) authenticateDevice(s *socket.Socket, next func(*socket.ExtendedError)) {
	if _, err := g.check(s); err != nil {
		next(socket.NewExtendedError(err.Error(), nil))
		return
	}
	id, err := deviceID(s.Nsp())
	if err == nil {
		_, err = g.devices.Get(context.Background(), id)
	}
	if err != nil {
		msg := "Device not found"
		if domain.KindOf(err) != domain.KindNotFound {
			g.log.Error("socket.io: look up device", "device", id, "err", err)
			msg = "Server error"
		}
		next(socket.NewExtendedError(msg, nil))
		return
	}
	g.nsps.Store(id, s.Nsp())
	_ = s.On("disconnect", func(...any) { g.forget(id, s.Nsp()) })
	next(nil)
}

// check authenticates the connection by the key it presents.
func (g *Gateway) check(s *socket.Socket) (key.Access, error) {
	return g.auth.Check(context.Background(), apiKey(s), s.Request().Request().RemoteAddr, "socket.io")
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

func deviceID(nsp socket.Namespace) (device.ID, error) {
	return device.ParseID(strings.TrimPrefix(nsp.Name(), "/device/"))
}

// forget drops a device's namespace once its last listener has left.
func (g *Gateway) forget(id device.ID, nsp socket.Namespace) {
	mu := g.lock(id)
	mu.Lock()
	defer mu.Unlock()
	if nsp.Sockets().Len() == 0 {
		g.nsps.CompareAndDelete(id, nsp)
	}
}

// welcome sends a listener that just connected to a device what it would otherwise have
// missed: the device's current state and, while it waits for a scan, the current QR code.
func (g *Gateway) welcome(s *socket.Socket) {
	id, _ := deviceID(s.Nsp()) // checked by authenticateDevice
	mu := g.lock(id)
	mu.Lock()
	defer mu.Unlock()
	// Read again under the lock: anything published from now on is newer than this.
	d, err := g.devices.Get(context.Background(), id)
	if err != nil {
		s.Disconnect(true)
		return
	}
	now := time.Now()
	h := device.Header{DeviceID: id, At: now}
	_ = s.Emit("state", payload(device.StateChanged{Header: h, Status: d.Status()}))
	if code, expires, ok := d.CurrentQR(now); ok {
		_ = s.Emit("qr", payload(device.QR{Header: h, Code: code, ExpiresAt: expires}))
	}
}

// Publish emits the event to the device's namespace and to the root namespace.
func (g *Gateway) Publish(_ context.Context, e device.Event) error {
	id := e.Head().DeviceID
	nsp := g.emit(id, e.Name(), payload(e))
	if d, ok := e.(device.Disconnected); ok && d.Reason == device.ReasonDeleted && nsp != nil {
		// The device is gone: its listeners are told why, then let go. The server ends
		// the connection, so clients do not try to reconnect. Outside the device's lock:
		// disconnecting runs forget, which takes it.
		nsp.DisconnectSockets(false)
	}
	return nil
}

// emit sends an event under the device's lock and returns the device's namespace, nil
// when nobody listens to it.
func (g *Gateway) emit(id device.ID, name string, p map[string]any) socket.Namespace {
	mu := g.lock(id)
	mu.Lock()
	defer mu.Unlock()
	var nsp socket.Namespace
	if v, ok := g.nsps.Load(id); ok {
		nsp = v.(socket.Namespace)
		_ = nsp.Emit(name, p)
	}
	_ = g.io.Sockets().Emit(name, p)
	return nsp
}

func (g *Gateway) lock(id device.ID) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return &g.locks[h.Sum32()%uint32(len(g.locks))]
}

// guard disconnects a connection whose client does not keep up: packets wait in its
// write buffer between "packetCreate" and "flush", and past maxBuffered of them the
// connection is closed rather than let the buffer grow. The client reconnects and gets
// the current state again.
func (g *Gateway) guard(conn engine.Socket) {
	var pending atomic.Int64
	var closing atomic.Bool
	_ = conn.On("packetCreate", func(...any) {
		if pending.Add(1) > g.maxBuffered && closing.CompareAndSwap(false, true) {
			g.log.Warn("socket.io: closing a connection that does not keep up", "buffered", pending.Load(), "remote", conn.RemoteAddress())
			go conn.Close(true)
		}
	})
	_ = conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if packets, ok := args[0].([]*packet.Packet); ok {
				pending.Add(-int64(len(packets)))
			}
		}
	})
}
