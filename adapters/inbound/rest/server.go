// Package rest is the gateway's REST API (fiber) under /api/v1, with the health checks.
package rest

import (
	"bytes"
	"context"
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

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Pinger reports whether the gateway's storage can serve requests.
type Pinger interface {
	Ping(ctx context.Context) error
}

// API is the REST API.
type API struct {
	app   application.App
	keys  *apikey.Verifier
	ready Pinger
	log   *slog.Logger
	fiber *fiber.App
}

// New builds the API's routes.
func New(app application.App, keys *apikey.Verifier, ready Pinger, log *slog.Logger) *API {
	a := &API{app: app, keys: keys, ready: ready, log: log}
	f := fiber.New(fiber.Config{
		AppName:               "wagate",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(log),
		CaseSensitive:         true,
		BodyLimit:             MaxBodyBytes,
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
	a.fiber = f
	return a
}

// Handler serves the API to net/http, so that it can share a server with Socket.io.
// Bodies are bounded here: fiber's adaptor reads them whole, without its own limit.
func (a *API) Handler() http.Handler {
	serve := adaptor.FiberApp(a.fiber)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeTooLarge(w)
			return
		}
		if r.Body != nil && r.ContentLength != 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				return // the client went away
			}
			if len(body) > MaxBodyBytes {
				writeTooLarge(w)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		serve(w, r)
	})
}

func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // the unread rest of the body makes the connection unusable
	w.WriteHeader(statusByCode[codeTooLarge])
	_, _ = io.WriteString(w, `{"error":{"code":"`+codeTooLarge+`","message":"request body too large (limit 1 MiB)"}}`)
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
