package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strings"

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
	genericInternalReason = "internal server error"
)

// statusByCode is the one table that decides the HTTP status of every error response.
var statusByCode = map[string]int{
	string(domain.KindInvalid):      http.StatusBadRequest,
	string(domain.KindUnauthorized): http.StatusUnauthorized,
	string(domain.KindNotFound):     http.StatusNotFound,
	string(domain.KindConflict):     http.StatusConflict,
	string(domain.KindUnavailable):  http.StatusServiceUnavailable,
	string(domain.KindInternal):     http.StatusInternalServerError,
	codeInvalidJSON:                 http.StatusBadRequest,
	codeRouteNotFound:               http.StatusNotFound,
	codeMethodNotAllowed:            http.StatusMethodNotAllowed,
	codeTooLarge:                    http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:            http.StatusUnsupportedMediaType,
}

// apiError is an error that belongs to HTTP itself (bad JSON, wrong content type...).
type apiError struct {
	code    string
	message string
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

// errorHandler writes every error of the API as {"error":{"code","message"}}.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code, message := describe(err)
		status := statusByCode[code]
		if status == http.StatusInternalServerError {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "request_id", requestID(c), "err", err)
		}
		return c.Status(status).JSON(errorBody{Error: errorDetail{Code: code, Message: message}})
	}
}

// decodeJSON reads the request body as one JSON object into v, strictly: the content
// type must be JSON, unknown fields and trailing data are refused.
func decodeJSON(c *fiber.Ctx, v any) error {
	if !isJSON(mediaType(c.Get(fiber.HeaderContentType))) {
		return errorf(codeUnsupportedMedia, "Content-Type must be application/json")
	}
	// The body may hold a base64 media file: it is read in place, not copied.
	body := c.Body()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errorf(codeInvalidJSON, "request body is empty; send a JSON object")
	}
	// Decode would take null for an empty object.
	if trimmed[0] != '{' {
		return errorf(codeInvalidJSON, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(codeInvalidJSON, "%s", jsonProblem(err))
	}
	// Token, unlike More, also finds a stray closing } or ].
	if _, err := dec.Token(); err != io.EOF {
		return errorf(codeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

func isJSON(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// mediaType is the lower-case type of a Content-Type header, without its parameters.
func mediaType(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
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
