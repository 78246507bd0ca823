package rest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/wagate/wagate/domain"
)

// Codes of the errors that only HTTP has. The others are the domain's kinds.
const (
	codeInvalidJSON       = "invalid_json"
	codeTooLarge          = "payload_too_large"
	codeUnsupportedMedia  = "unsupported_media_type"
	codeMethodNotAllowed  = "method_not_allowed"
	codeRouteNotFound     = "route_not_found"
	codeBusy              = "busy"
	genericInternalReason = "internal server error"
)

// statusByCode is the one table that decides the HTTP status of every error response.
var statusByCode = map[string]int{
	string(domain.KindInvalid):      http.StatusBadRequest,
	string(domain.KindUnauthorized): http.StatusUnauthorized,
	string(domain.KindForbidden):    http.StatusForbidden,
	string(domain.KindRateLimited):  http.StatusTooManyRequests,
	string(domain.KindNotFound):     http.StatusNotFound,
	string(domain.KindConflict):     http.StatusConflict,
	string(domain.KindUnavailable):  http.StatusServiceUnavailable,
	string(domain.KindInternal):     http.StatusInternalServerError,
	codeInvalidJSON:                 http.StatusBadRequest,
	codeRouteNotFound:               http.StatusNotFound,
	codeMethodNotAllowed:            http.StatusMethodNotAllowed,
	codeTooLarge:                    http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:            http.StatusUnsupportedMediaType,
	codeBusy:                        http.StatusServiceUnavailable,
}

// statusOf is the HTTP status of an error code; anything unmapped is a 500.
func statusOf(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// apiError is an error that belongs to HTTP itself (bad JSON, wrong content type...).
type apiError struct {
	code       string
	message    string
	retryAfter string // seconds, for 503 and 429
}

func (e *apiError) Error() string { return e.message }

func errorf(code, format string, args ...any) error {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// describe turns any error into the code and message shown to the caller. Errors that are
// not meant for callers become a generic internal error: their text may hold secrets.
func describe(err error) (code, message string) {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e.code, e.message
	}
	if e, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return codeTooLarge, fmt.Sprintf("request body too large (limit %d bytes)", e.Limit)
	}
	if e, ok := errors.AsType[*fiber.Error](err); ok {
		switch e.Code {
		case fiber.StatusNotFound:
			return codeRouteNotFound, "no such route"
		case fiber.StatusMethodNotAllowed:
			return codeMethodNotAllowed, "method not allowed on this route"
		case fiber.StatusRequestEntityTooLarge:
			return codeTooLarge, "request body too large"
		}
	}
	if msg := domain.MessageOf(err); msg != "" {
		return string(domain.KindOf(err)), msg
	}
	return string(domain.KindInternal), genericInternalReason
}

// tooLarge refuses a body that announces more than limit bytes; reading past the limit
// through http.MaxBytesReader fails with the same error, which describe turns into 413.
func tooLarge(limit int64) error { return &http.MaxBytesError{Limit: limit} }

// retryAfter is the Retry-After header an error asks for, "" for none: whole seconds,
// rounded up.
func retryAfter(err error) string {
	if d := domain.RetryAfterOf(err); d > 0 {
		return strconv.Itoa(int((d + time.Second - 1) / time.Second))
	}
	if e, ok := errors.AsType[*apiError](err); ok {
		return e.retryAfter
	}
	return ""
}

// errorHandler writes every error of the fiber routes as {"error":{"code","message"}}.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code, message := describe(err)
		status := statusOf(code)
		if status == http.StatusInternalServerError {
			log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Path(), "err", err)
		}
		if s := retryAfter(err); s != "" {
			c.Set(fiber.HeaderRetryAfter, s)
		}
		return c.Status(status).JSON(errorBody{Error: errorDetail{Code: code, Message: message}})
	}
}

// writeError is errorHandler for the routes served by net/http.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, message := describe(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if s := retryAfter(err); s != "" {
		w.Header().Set("Retry-After", s)
	}
	if code == codeTooLarge {
		w.Header().Set("Connection", "close") // the unread rest of the body makes the connection unusable
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads the request body as one JSON object into v, strictly: the content
// type must be JSON, unknown fields and trailing data are refused.
func decodeJSON(c *fiber.Ctx, v any) error {
	if !isJSON(mediaType(c.Get(fiber.HeaderContentType))) {
		return errorf(codeUnsupportedMedia, "Content-Type must be application/json")
	}
	return decodeJSONFrom(bytes.NewReader(c.Body()), v)
}

// decodeJSONFrom is decodeJSON for a body that is read as a stream.
func decodeJSONFrom(body io.Reader, v any) error {
	br := bufio.NewReader(body)
	first, err := firstNonSpace(br)
	switch {
	case errors.Is(err, io.EOF):
		return errorf(codeInvalidJSON, "request body is empty; send a JSON object")
	case isTooLarge(err):
		return err
	case err != nil:
		return errorf(codeInvalidJSON, "the request body could not be read")
	}
	// Decode would take null for an empty object.
	if first != '{' {
		return errorf(codeInvalidJSON, "request body must be a JSON object")
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); isTooLarge(err) {
		return err
	} else if err != nil {
		return errorf(codeInvalidJSON, "%s", jsonProblem(err))
	}
	// Token, unlike More, also finds a stray closing } or ].
	if _, err := dec.Token(); err != io.EOF {
		return errorf(codeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

// firstNonSpace peeks at the first byte of the body that is not JSON white space.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

func isTooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}

func isJSON(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// mediaType is the lower-case type of a Content-Type header, without its parameters.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "" // a malformed header names no type, even when its type part parses
	}
	return mt
}

func jsonProblem(err error) string {
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Error())
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if e.Field == "" {
			return "request body must be a JSON object"
		}
		return fmt.Sprintf("field %q must be a %s", e.Field, jsonType(e.Type.Kind()))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "malformed JSON: the body ends too early"
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + f
	}
	return "malformed JSON"
}

func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "number"
}
