// Package domain holds what every part of the gateway agrees on: the error kinds that
// travel from the core to the transports. Entities and ports live in its subpackages.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that each transport can map it to its own status in one place.
type Kind string

const (
	KindInvalid      Kind = "invalid_request" // the request is well formed but breaks a rule
	KindNotFound     Kind = "not_found"       // the thing asked for does not exist
	KindConflict     Kind = "conflict"        // the thing exists but is in the wrong state
	KindUnauthorized Kind = "unauthorized"    // the caller is not allowed in
	KindForbidden    Kind = "forbidden"       // the caller is in, but its key does not allow this
	KindRateLimited  Kind = "rate_limited"    // the caller must wait before trying again
	KindUnavailable  Kind = "unavailable"     // a dependency cannot serve the request now
	KindInternal     Kind = "internal"        // a bug or an unexpected failure; never shown as is
)

// Error is an error with a kind and a message that is safe to show to the caller.
type Error struct {
	Kind    Kind
	Message string
	// RetryAfter, when set, is how long the caller should wait before trying again.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an Error whose message is safe to show to API users.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// MessageOf returns the user-safe message of the first Error in err's chain, or "" when
// there is none (the caller then shows a generic message, never err.Error()).
func MessageOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return ""
}

// RetryAfterOf returns the RetryAfter of the first Error in err's chain, 0 when none.
func RetryAfterOf(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}
