// Package apikey checks the API key that callers present, for every inbound adapter.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"

	"github.com/wagate/wagate/domain"
)

// The errors callers see. Their messages are the gateway contract's exact strings.
var (
	ErrMissing       error = &domain.Error{Kind: domain.KindUnauthorized, Message: "API key is required"}
	ErrInvalid       error = &domain.Error{Kind: domain.KindUnauthorized, Message: "Invalid API key"}
	ErrNotConfigured error = &domain.Error{Kind: domain.KindUnavailable, Message: "Server configuration error"}
)

// Verifier checks keys against the configured one in constant time. It keeps only the
// key's hash, so that neither its bytes nor its length can leak through timing.
type Verifier struct {
	hash       [sha256.Size]byte
	configured bool
}

// NewVerifier returns a Verifier for key. An empty key means that none is configured:
// every check then fails with ErrNotConfigured, so that the server never runs open.
func NewVerifier(key string) *Verifier {
	if key == "" {
		return &Verifier{}
	}
	return &Verifier{hash: sha256.Sum256([]byte(key)), configured: true}
}

// Verify returns nil when candidate is the configured key.
func (v *Verifier) Verify(candidate string) error {
	switch {
	case !v.configured:
		return ErrNotConfigured
	case candidate == "":
		return ErrMissing
	}
	h := sha256.Sum256([]byte(candidate))
	if subtle.ConstantTimeCompare(h[:], v.hash[:]) != 1 {
		return ErrInvalid
	}
	return nil
}
