package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wagate/wagate/adapters/inbound/rest"
	"github.com/wagate/wagate/adapters/outbound/socketio"
	"github.com/wagate/wagate/application"
)

// ShutdownTimeout bounds a graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Gateway is the wired gateway: its use cases and the HTTP handler that serves them.
type Gateway struct {
	App     application.App
	Handler http.Handler
	sockets *socketio.Gateway
	log     *slog.Logger
}

// NewGateway mounts Socket.io at /ws and the REST API on everything else, on one
// net/http handler: Socket.io needs net/http's connection hijacking for websockets.
func NewGateway(app application.App, api *rest.API, sockets *socketio.Gateway, log *slog.Logger) *Gateway {
	mux := http.NewServeMux()
	mux.Handle(socketio.Path+"/", sockets.Handler())
	mux.Handle("/", api.Handler())
	return &Gateway{App: app, Handler: mux, sockets: sockets, log: log}
}

// Serve answers HTTP on ln until ctx ends, then stops accepting requests and waits (up to
// ShutdownTimeout) for those under way.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	started := time.Now()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go g.restore(ctx, started)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	g.log.Info("shutting down")
	// Socket.io first: it owns the hijacked websockets, which http.Server.Shutdown
	// neither closes nor waits for.
	g.sockets.Close()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// restore connects again the devices whose sessions were running when the gateway last
// stopped. It runs beside the server: a slow WhatsApp must not delay the API.
func (g *Gateway) restore(ctx context.Context, started time.Time) {
	r, err := g.App.Commands.RestoreSessions.Handle(ctx, application.RestoreSessions{StartedAt: started})
	switch {
	case err != nil:
		g.log.Error("restore sessions", "err", err)
	case r.Started+r.Skipped+r.Failed > 0:
		g.log.Info("sessions restored", "started", r.Started, "skipped", r.Skipped, "failed", r.Failed)
	}
}
