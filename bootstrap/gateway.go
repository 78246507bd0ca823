package bootstrap

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wagate/wagate/adapters/inbound/rest"
	"github.com/wagate/wagate/adapters/outbound/socketio"
	"github.com/wagate/wagate/application"
)

// ShutdownTimeout bounds a graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Defaults of the HTTP server's read timeouts, which keep clients that send slowly (on
// purpose or not) from holding connections and goroutines for ever.
//
// DefaultReadTimeout bounds reading one request, headers and body. It has to cover:
//   - a Socket.io long-poll, held open by the server for up to its ping interval (25 s):
//     past ReadTimeout net/http cancels the request's context;
//   - the largest upload (MEDIA_MAX_BYTES, 64 MiB by default): 2 minutes allow it at
//     about 4.5 Mbit/s. A route meant for slower uploads can extend its own deadline with
//     http.NewResponseController(w).SetReadDeadline in a net/http handler placed before
//     the REST adapter, which reads the whole body before any fiber handler runs.
//
// Websockets are not cut off: the hijacked connection keeps this deadline, but the
// Socket.io engine sets a read deadline of its own (its idle timeout, 2 minutes) before
// every frame it reads.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 2 * time.Minute
)

// Gateway is the wired gateway: its use cases and the HTTP handler that serves them.
type Gateway struct {
	App     application.App
	Handler http.Handler
	// ReadHeaderTimeout and ReadTimeout are the server's (see DefaultReadTimeout); change
	// them before Serve.
	ReadHeaderTimeout, ReadTimeout time.Duration

	sockets  *socketio.Gateway
	sessions Sessions
	prune    application.PruneLog
	url      string // where the other instances reach this one; "" to derive it from the listener
	log      *slog.Logger
}

// Sessions are the running WhatsApp sessions, as far as shutting down is concerned. Close
// ends them all without changing the devices, so that the next start restores them, and
// refuses new ones from then on.
type Sessions interface {
	Close(ctx context.Context) error
}

// NewGateway mounts Socket.io at /ws and the REST API on everything else, on one
// net/http handler: Socket.io needs net/http's connection hijacking for websockets. It
// sets the event feed's poll and relay (nil without Redis), which Serve runs.
func NewGateway(app application.App, api *rest.API, sockets *socketio.Gateway, sessions Sessions, relay application.Relay, cfg Config, log *slog.Logger) *Gateway {
	app.Commands.Feed.Poll = cfg.FeedPoll
	app.Commands.Feed.Relay = relay
	mux := http.NewServeMux()
	mux.Handle(socketio.Path+"/", sockets.Handler())
	mux.Handle("/", api.Handler())
	return &Gateway{App: app, Handler: mux, sockets: sockets, sessions: sessions, log: log,
		url: cfg.InstanceURL,
		prune: application.PruneLog{Events: cmp.Or(cfg.EventRetention, DefaultEventRetention),
			Messages: cmp.Or(cfg.MessageRetention, DefaultMessageRetention), Batch: pruneBatch, Budget: pruneBudget},
		ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout}
}

// The log's cleanup runs every pruneEvery, deleting pruneBatch rows per statement for at
// most pruneBudget: it never holds the database for long, and a backlog goes over
// several runs.
// feedStartWait bounds how long serving waits for the event log to be readable.
const feedStartWait = 10 * time.Second

const (
	pruneEvery  = 10 * time.Minute
	pruneBatch  = 1000
	pruneBudget = 2 * time.Second
)

// Serve answers HTTP on ln until ctx ends, then stops accepting requests and waits (up to
// ShutdownTimeout) for those under way.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.Handler,
		ReadHeaderTimeout: g.ReadHeaderTimeout,
		ReadTimeout:       g.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	// The feed outlives ctx: shutting down, it still delivers what the sessions stored
	// while they stopped.
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeed()
	go g.App.Commands.Feed.Run(feedCtx)
	// Listeners come in once the feed knows where the log ends: what is committed
	// before is theirs to read back, what is committed after is delivered.
	select {
	case <-g.App.Commands.Feed.Started():
	case <-time.After(feedStartWait):
		g.log.Warn("the event log cannot be read: serving anyway, events go out once it can")
	}
	go g.pruneLog(ctx)
	delivering := make(chan struct{})
	go func() {
		defer close(delivering)
		g.App.Commands.Dispatcher.Run(ctx)
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	owning := make(chan struct{})
	go func() {
		defer close(owning)
		g.App.Commands.Ownership.Run(ctx, g.instanceURL(ln.Addr()))
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	g.log.Info("shutting down")
	// In this order: stop taking requests (Shutdown closes the listener at once, then
	// waits for the requests under way); stop the sessions, so that nothing more is
	// received and acknowledged to WhatsApp; deliver what the log holds to the listeners
	// still connected; close Socket.io, which owns the hijacked websockets (Shutdown
	// neither closes nor waits for them) and ends the long-polls Shutdown waits for; and
	// last, wait for HTTP.
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	began := time.Now()
	<-owning     // claims nothing more
	<-delivering // posts nothing more: what was under way goes again, from the cursor
	if err := g.sessions.Close(sctx); err != nil {
		g.log.Warn("stop WhatsApp sessions", "err", err)
	}
	g.log.Info("WhatsApp sessions stopped", "after", time.Since(began).Round(time.Millisecond))
	// The sessions have stopped: their leases go at once, for the other instances to
	// take them over without waiting for them to expire.
	if err := g.App.Commands.Ownership.Release(sctx); err != nil {
		g.log.Warn("hand the sessions over", "err", err)
	}
	if err := g.App.Commands.Feed.Flush(sctx); err != nil {
		g.log.Warn("deliver the last events", "err", err)
	}
	g.sockets.Close()
	err := <-shut
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// pruneLog deletes the events and messages past their retention, now and every
// pruneEvery, until ctx ends.
func (g *Gateway) pruneLog(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := g.App.Commands.PruneLog.Handle(ctx, g.prune)
		switch {
		case err != nil && ctx.Err() == nil:
			g.log.Warn("prune the event log", "err", err)
		case n.Events+n.Messages > 0:
			g.log.Info("event log pruned", "events", n.Events, "messages", n.Messages)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// instanceURL is where the other instances reach this one: the configured URL, else
// the address listened on (with the host name in place of an unspecified address).
func (g *Gateway) instanceURL(addr net.Addr) string {
	if g.url != "" {
		return g.url
	}
	host, port, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err == nil && (ip == nil || ip.IsUnspecified()) {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
