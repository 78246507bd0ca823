package wasim

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is what the Go API returns for a request the simulator refuses. The
// control API sends it as {"error":{"code":...,"message":...}} with Status as
// the HTTP status.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("wasim: %s: %s", e.Code, e.Message) }

func badRequest(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func conflict(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf(format, args...)}
}

func internalError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
}

// asError converts any error into an *Error for the control API.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return internalError(err)
}

// ErrorCode returns the Code of a simulator *Error, or "" for other errors.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
