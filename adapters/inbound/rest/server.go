// Package rest is the gateway's REST API (fiber) under /api/v1, with the health checks.
package rest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
)

// MaxBodyBytes bounds every request body but messages, whose media may be larger.
const MaxBodyBytes = 1 << 20

// Options tunes the API.
type Options struct {
	// MaxMediaBytes is the largest media file a message may carry; bodies of
	// POST /devices/:id/messages may hold it base64-encoded.
	MaxMediaBytes int64
}

// Pinger reports whether the gateway's storage can serve requests.
type Pinger interface {
	Ping(ctx context.Context) error
}

// API is the REST API.
type API struct {
	app          application.App
	keys         *apikey.Verifier
	ready        Pinger
	log          *slog.Logger
	fiber        *fiber.App
	maxSendBytes int64
}

// New builds the API's routes.
func New(app application.App, keys *apikey.Verifier, ready Pinger, log *slog.Logger, o Options) *API {
	// base64 takes 4 bytes for 3, and the rest of the message fits in MaxBodyBytes.
	a := &API{app: app, keys: keys, ready: ready, log: log, maxSendBytes: o.MaxMediaBytes/3*4 + MaxBodyBytes}
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
	f.Use(recover.New(), requestid.New(), a.accessLog)
	f.Get("/healthz", a.healthz)
	f.Get("/readyz", a.readyz)

	v1 := f.Group("/api/v1", a.authenticate)
	v1.Post("/devices", a.createDevice)
	v1.Get("/devices", a.listDevices)
	v1.Get("/devices/:id", a.getDevice)
	v1.Patch("/devices/:id", a.renameDevice)
	v1.Delete("/devices/:id", a.deleteDevice)
	v1.Post("/devices/:id/connect", a.connectDevice)
	v1.Post("/devices/:id/disconnect", a.disconnectDevice)
	v1.Post("/devices/:id/logout", a.logoutDevice)
	v1.Get("/devices/:id/qr", a.getQR)
	v1.Post("/devices/:id/pair-code", a.requestPairingCode)
	v1.Post("/devices/:id/messages", a.sendMessage)
	v1.Get("/devices/:id/messages/:messageId/media", a.getMedia)
	a.fiber = f
	return a
}

// Handler serves the API to net/http, so that it can share a server with Socket.io.
// Bodies are bounded here: fiber's adaptor reads them whole, without its own limit.
func (a *API) Handler() http.Handler {
	serve := adaptor.FiberApp(a.fiber)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := a.bodyLimit(r)
		if r.ContentLength > limit {
			writeTooLarge(w, limit)
			return
		}
		if r.Body != nil && r.ContentLength != 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				return // the client went away
			}
			if int64(len(body)) > limit {
				writeTooLarge(w, limit)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		serve(w, r)
	})
}

// bodyLimit is how large r's body may be: sending a message may carry a media file.
func (a *API) bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/devices/") && strings.HasSuffix(r.URL.Path, "/messages") {
		return a.maxSendBytes
	}
	return MaxBodyBytes
}

func writeTooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // the unread rest of the body makes the connection unusable
	w.WriteHeader(statusByCode[codeTooLarge])
	_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":"request body too large (limit %d bytes)"}}`, codeTooLarge, limit)
}

// authenticate lets a request in when it carries the API key, in X-API-Key or as a
// bearer token.
func (a *API) authenticate(c *fiber.Ctx) error {
	key := c.Get("X-API-Key")
	if key == "" {
		if auth := c.Get(fiber.HeaderAuthorization); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			key = strings.TrimSpace(auth[7:])
		}
	}
	if err := a.keys.Verify(key); err != nil {
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
		a.log.Warn("readiness check failed", "err", err)
		return domain.Errorf(domain.KindUnavailable, "the database is not reachable")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// accessLog logs each request without its headers or query, where keys could be.
func (a *API) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	a.log.Debug("request", "method", c.Method(), "path", c.Path(), "status", c.Response().StatusCode(),
		"duration", time.Since(start), "request_id", requestID(c))
	return nil
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	return id
}
