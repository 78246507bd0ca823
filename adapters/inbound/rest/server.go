// Package rest is the gateway's REST API (fiber) under /api/v1, with the health checks
// its documentation (/openapi.json, /docs) and the web console (/console).
package rest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/key"
)

// MaxBodyBytes bounds every request body but messages, whose media may be larger.
const MaxBodyBytes = 1 << 20

// DefaultMaxUploads is how many requests may carry a body larger than MaxBodyBytes at once.
const DefaultMaxUploads = 8

// Options tunes the API.
type Options struct {
	// MaxMediaBytes is the largest media file a message may carry; bodies of
	// POST /devices/:id/messages may hold it base64-encoded.
	MaxMediaBytes int64
	// MaxUploads bounds the messages with a large body (a media file) received at once,
	// so that memory and temporary files stay bounded; DefaultMaxUploads when 0. More
	// are refused with 503 and Retry-After.
	MaxUploads int
	// Dependencies are what /readyz checks besides storage.
	Dependencies []Dependency
	// Observer is told of every request answered; nil: nobody.
	Observer Observer
	// Metrics, when set, is served at /metrics to callers presenting MetricsToken (as
	// a bearer token) or an admin key.
	Metrics      http.Handler
	MetricsToken string
	// SocketIOContract is the Socket.io contract (docs/socketio.md), served at
	// /docs/socketio.md and linked from the docs page.
	SocketIOContract []byte
}

// Dependency is something besides storage that the gateway needs to be ready, such as
// the Redis that carries events between instances; /readyz names it when it fails.
type Dependency struct {
	Name string
	Pinger
}

// Authenticator tells what a presented key allows, counting failures against the
// client's address; apikey.Guard is one.
type Authenticator interface {
	Check(ctx context.Context, secret, remote, via string) (key.Access, error)
}

// Pinger reports whether the gateway's storage can serve requests.
type Pinger interface {
	Ping(ctx context.Context) error
}

// API is the REST API.
type API struct {
	app          application.App
	guard        Authenticator
	ready        Pinger
	log          *slog.Logger
	fiber        *fiber.App
	opts         Options
	maxSendBytes int64
	uploads      chan struct{}     // one token per large body being received
	routes       map[string]string // fiber's route paths to their labels (fiberRoutes)
}

// The fiber Locals keys of the caller's key.Access, of the request (its *exchange, for
// its id and route) and of the request's context.
const (
	accessLocal   = "wagate.access"
	exchangeLocal = "wagate.exchange"
	contextLocal  = "wagate.context"
)

// New builds the API's routes.
func New(app application.App, guard Authenticator, ready Pinger, log *slog.Logger, o Options) *API {
	if o.MaxUploads <= 0 {
		o.MaxUploads = DefaultMaxUploads
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	log = slog.New(LogRequestIDs(log.Handler()))
	// base64 takes 4 bytes for 3, and the rest of the message fits in MaxBodyBytes.
	a := &API{app: app, guard: guard, ready: ready, log: log, opts: o,
		maxSendBytes: o.MaxMediaBytes/3*4 + MaxBodyBytes, uploads: make(chan struct{}, o.MaxUploads)}
	f := fiber.New(fiber.Config{
		AppName:               "wagate",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(log),
		CaseSensitive:         true,
		// Without it, the strings fiber returns (route parameters, headers, queries)
		// point into request buffers that later requests reuse; a device id kept by a
		// session would then change under it.
		Immutable: true,
		BodyLimit: MaxBodyBytes,
	})
	f.Use(recover.New(), a.handleErrors)
	f.Get("/healthz", a.healthz)
	f.Get("/readyz", a.readyz)
	a.routeDocs(f)
	a.routeConsole(f)

	v1 := f.Group("/api/v1", requireAccess)
	v1.Post("/devices", a.createDevice)
	v1.Get("/devices", a.listDevices)
	v1.Get("/events", a.listEvents)
	// Every route that names a device checks the key's scope first (a group's middleware
	// would run before fiber has parsed :id).
	dev := func(method, path string, h fiber.Handler) { v1.Add(method, "/devices/:id"+path, a.scope, h) }
	dev(fiber.MethodGet, "", a.getDevice)
	dev(fiber.MethodPatch, "", a.renameDevice)
	dev(fiber.MethodDelete, "", a.deleteDevice)
	dev(fiber.MethodPost, "/connect", a.connectDevice)
	dev(fiber.MethodPost, "/disconnect", a.disconnectDevice)
	dev(fiber.MethodPost, "/logout", a.logoutDevice)
	dev(fiber.MethodGet, "/qr", a.getQR)
	dev(fiber.MethodPost, "/pair-code", a.requestPairingCode)
	dev(fiber.MethodGet, "/events", a.deviceEvents)
	dev(fiber.MethodGet, "/messages", a.listMessages) // sending is served by net/http: see Handler
	dev(fiber.MethodPatch, "/messages/:messageId", a.editMessage)
	dev(fiber.MethodDelete, "/messages/:messageId", a.revokeMessage)
	dev(fiber.MethodPost, "/chats/:chat/read", a.markRead)
	dev(fiber.MethodPost, "/chats/:chat/presence", a.setChatState)
	dev(fiber.MethodGet, "/contacts/:contact/picture", a.getPicture)
	v1.Post("/devices/:id/contacts/check", a.scopeRead, a.checkPhones)
	keys := v1.Group("/keys", a.adminOnly)
	keys.Post("", a.createKey)
	keys.Get("", a.listKeys)
	keys.Delete("/:id", a.revokeKey)
	hooks := v1.Group("/webhooks", a.adminOnly)
	hooks.Post("", a.createWebhook)
	hooks.Get("", a.listWebhooks)
	hooks.Get("/:id", a.getWebhook)
	hooks.Patch("/:id", a.updateWebhook)
	hooks.Delete("/:id", a.deleteWebhook)
	hooks.Get("/:id/deliveries", a.listDeliveries)
	hooks.Post("/:id/redeliver", a.redeliverWebhook)
	hooks.Post("/:id/test", a.pingWebhook)
	a.fiber = f
	a.routes = fiberRoutes(f)
	return a
}

// Handler serves the API to net/http, so that it can share a server with Socket.io.
// Every /api/v1 request is authenticated from its headers before any of its body is
// read, so that a caller without a key cannot make the server buffer anything. The two
// routes whose bodies or answers may be large (a message with a media file, a media
// download) are plain net/http handlers that stream; the rest goes through fiber.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range a.muxRoutes() {
		mux.Handle(pattern, h)
	}
	mux.Handle("/api/v1/", a.authenticated(a.serveFiber))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serveFiber(w, r, nil) }))
	return a.observe(mux)
}

// muxRoutes are the routes net/http serves before fiber, by pattern: those that stream
// and those that need the device's session, carried to the instance that runs it.
func (a *API) muxRoutes() map[string]http.Handler {
	routes := map[string]http.Handler{
		"POST /api/v1/devices/{id}/messages":                  a.authenticated(a.atOwner(a.sendMessage)),
		"GET /api/v1/devices/{id}/messages/{messageId}/media": a.authenticated(a.atOwner(a.getMedia)),
	}
	for _, route := range []string{
		"POST /api/v1/devices/{id}/disconnect", "POST /api/v1/devices/{id}/logout", "POST /api/v1/devices/{id}/pair-code",
		"PATCH /api/v1/devices/{id}/messages/{messageId}", "DELETE /api/v1/devices/{id}/messages/{messageId}",
		"POST /api/v1/devices/{id}/chats/{chat}/read", "POST /api/v1/devices/{id}/chats/{chat}/presence",
		"POST /api/v1/devices/{id}/contacts/check", "GET /api/v1/devices/{id}/contacts/{contact}/picture",
	} {
		routes[route] = a.authenticated(a.atOwner(a.serveFiber))
	}
	if a.opts.Metrics != nil {
		routes["GET /metrics"] = http.HandlerFunc(a.metricsHandler)
	}
	return routes
}

// authenticated lets a request through with what its key allows, from X-API-Key or a
// bearer token.
func (a *API) authenticated(next func(http.ResponseWriter, *http.Request, *key.Access)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		access, err := a.guard.Check(r.Context(), presentedKey(r.Header), r.RemoteAddr, "rest")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next(w, r, &access)
	})
}

func presentedKey(h http.Header) string {
	if k := h.Get("X-API-Key"); k != "" {
		return k
	}
	if auth := h.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// serveFiber runs the request through fiber with access in its Locals. fiber's own
// adaptor reads bodies without a limit and cannot pass values along, hence this one.
func (a *API) serveFiber(w http.ResponseWriter, r *http.Request, access *key.Access) {
	if r.ContentLength > MaxBodyBytes {
		a.writeError(w, r, tooLarge(MaxBodyBytes)) // refused from its announced length, unread
		return
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	if r.Body != nil && r.ContentLength != 0 {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if isTooLarge(err) {
			a.writeError(w, r, err)
			return
		} else if err != nil {
			return // the client went away
		}
		req.SetBody(body)
	}
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.RequestURI)
	req.Header.SetHost(r.Host)
	for name, values := range r.Header {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	remote, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	var fctx fasthttp.RequestCtx
	fctx.Init(req, remote, nil)
	if access != nil {
		fctx.SetUserValue(accessLocal, *access)
	}
	// The handlers get the request's values (its id, for logs) but not its
	// cancellation: a use case under way finishes when its caller goes away.
	fctx.SetUserValue(contextLocal, context.WithoutCancel(r.Context()))
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	fctx.SetUserValue(exchangeLocal, x)
	a.fiber.Handler()(&fctx)
	fctx.Response.Header.VisitAll(func(k, v []byte) { w.Header().Add(string(k), string(v)) })
	w.WriteHeader(fctx.Response.StatusCode())
	_, _ = w.Write(fctx.Response.Body())
}

// accessOf is what the caller's key allows; authenticated put it there.
func accessOf(c *fiber.Ctx) key.Access {
	a, _ := c.Locals(accessLocal).(key.Access)
	return a
}

// requireAccess refuses what reached fiber's /api/v1 without authenticated: a zero Access
// must never stand for one that allows everything.
func requireAccess(c *fiber.Ctx) error {
	if _, ok := c.Locals(accessLocal).(key.Access); !ok {
		return key.ErrMissing
	}
	return c.Next()
}

func (a *API) adminOnly(c *fiber.Ctx) error {
	if err := accessOf(c).Admin(); err != nil {
		return err
	}
	return c.Next()
}

func (a *API) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (a *API) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := a.ready.Ping(ctx); err != nil {
		a.log.WarnContext(ctx, "readiness check failed", "err", err)
		return domain.Errorf(domain.KindUnavailable, "the database is not reachable")
	}
	var down []string
	for _, d := range a.opts.Dependencies {
		if err := d.Ping(ctx); err != nil {
			a.log.WarnContext(ctx, "readiness check failed", "dependency", d.Name, "err", err)
			down = append(down, d.Name)
		}
	}
	if len(down) > 0 {
		verb := "is"
		if len(down) > 1 {
			verb = "are"
		}
		return domain.Errorf(domain.KindUnavailable, "%s %s not reachable", strings.Join(down, " and "), verb)
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// handleErrors gives the handlers the request's context, answers the errors they
// return, and records the route the request matched, for observe.
func (a *API) handleErrors(c *fiber.Ctx) error {
	if ctx, ok := c.Locals(contextLocal).(context.Context); ok {
		c.SetUserContext(ctx)
	}
	err := c.Next()
	route := a.routes[c.Route().Path]
	if err != nil {
		if code, _ := describe(err); code == codeRouteNotFound || code == codeMethodNotAllowed {
			route = unmatchedRoute
		}
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	if x, ok := c.Locals(exchangeLocal).(*exchange); ok && x != nil {
		x.route = route
	}
	return nil
}
