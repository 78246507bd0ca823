package rest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// RequestIDHeader carries a request's id: taken from the request when it is sane (a
// proxy in front may have set it), else made here, and returned in the response.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLength bounds an id accepted from a client.
const maxRequestIDLength = 128

// Observer is told of every request answered (metrics). route is the pattern the
// request matched, with {name} for its parameters (never the path itself, which holds
// ids), or "unmatched". It must return at once.
type Observer interface {
	ObserveRequest(method, route string, status int, took time.Duration)
}

type noObserver struct{}

func (noObserver) ObserveRequest(string, string, int, time.Duration) {}

// unmatchedRoute is the route of requests that matched none.
const unmatchedRoute = "unmatched"

// exchange is what the API keeps of a request while answering it, in its context.
type exchange struct {
	id    string
	route string // set by the handler that matched, when it knows better than ServeMux
}

type exchangeKey struct{}

// RequestID is the id of the REST request ctx belongs to, "" outside one.
func RequestID(ctx context.Context) string {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return x.id
	}
	return ""
}

// LogRequestIDs adds the request's id (request_id) to the records logged with the
// context of a REST request. Wrapping a handler twice adds it once.
func LogRequestIDs(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDs); ok {
		return h
	}
	return requestIDs{h}
}

type requestIDs struct{ slog.Handler }

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDs{h.Handler.WithAttrs(attrs)}
}

func (h requestIDs) WithGroup(name string) slog.Handler { return requestIDs{h.Handler.WithGroup(name)} }

// observe gives each request its id, in its context, in the request (which carries it
// to fiber and to the instance a request is forwarded to) and in the response; and once
// answered, logs it (debug) and tells the observer.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = strings.ToLower(rand.Text())
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		x := &exchange{id: id}
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := x.route
		if route == "" {
			// ServeMux set the pattern it matched on r: "POST /api/v1/devices/{id}/messages".
			_, route, _ = strings.Cut(r.Pattern, " ")
		}
		if route == "" {
			route = unmatchedRoute
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		took := time.Since(began)
		a.opts.Observer.ObserveRequest(r.Method, route, status, took)
		a.log.DebugContext(r.Context(), "request", "method", r.Method, "route", route, "path", r.URL.Path, "status", status, "duration", took)
	})
}

// saneRequestID is whether a client's request id may be kept: short, and of characters
// that cannot forge log lines or headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.:/+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// statusWriter records the status of the response. Unwrap lets http.ResponseController
// reach the connection (deadlines, flushing) through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fiberRoutes maps the paths of fiber's routes (/api/v1/devices/:id) to their labels
// (/api/v1/devices/{id}), made once: labelling a request allocates nothing.
func fiberRoutes(f *fiber.App) map[string]string {
	labels := map[string]string{}
	for _, r := range f.GetRoutes() {
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if name, ok := strings.CutPrefix(s, ":"); ok {
				segs[i] = "{" + name + "}"
			}
		}
		labels[r.Path] = strings.Join(segs, "/")
	}
	return labels
}

// metricsHandler serves the metrics to callers that present the metrics token (as a
// bearer token) or an admin key.
func (a *API) metricsHandler(w http.ResponseWriter, r *http.Request) {
	secret := presentedKey(r.Header)
	if token := a.opts.MetricsToken; token == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(token)) != 1 {
		access, err := a.guard.Check(r.Context(), secret, r.RemoteAddr, "metrics")
		if err == nil {
			err = access.Admin()
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	a.opts.Metrics.ServeHTTP(w, r)
}
