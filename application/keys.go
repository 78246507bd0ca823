package application

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// AdminKey is the key from the configuration (API_KEY); "" when none is configured, in
// which case every call is refused rather than let in.
type AdminKey string

// Key is the read model of an API key: never its secret or hash.
type Key struct {
	ID        string
	Name      string
	Role      string
	Devices   []string // empty: every device
	Hint      string   // the secret's first characters
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

func keyView(k *key.Key) Key {
	s := k.Snapshot()
	v := Key{ID: s.ID.String(), Name: s.Name, Role: s.Role.String(), Hint: s.Hint, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	for _, id := range s.Devices {
		v.Devices = append(v.Devices, id.String())
	}
	return v
}

// AuthenticateHandler finds what the holder of a secret may do. It stands apart from App:
// the transports that listeners connect to need it before the App that publishes to them
// can be built.
type AuthenticateHandler struct {
	keys       key.Repository
	admin      key.Hash
	configured bool
	clock      Clock
}

func NewAuthenticate(keys key.Repository, admin AdminKey, clock Clock) AuthenticateHandler {
	return AuthenticateHandler{keys: keys, admin: key.HashOf(string(admin)), configured: admin != "", clock: clock}
}

// Handle returns the secret's access, or key.ErrMissing, key.ErrInvalid (unknown, revoked
// or expired) or key.ErrNotConfigured.
func (h AuthenticateHandler) Handle(ctx context.Context, secret string) (key.Access, error) {
	switch {
	case !h.configured:
		return key.Access{}, key.ErrNotConfigured
	case secret == "":
		return key.Access{}, key.ErrMissing
	}
	hash := key.HashOf(secret)
	// Compared as hashes in constant time: neither the admin key's bytes nor its length
	// leak through timing.
	if subtle.ConstantTimeCompare(hash[:], h.admin[:]) == 1 {
		return key.Configured(), nil
	}
	if !strings.HasPrefix(secret, key.Prefix) {
		return key.Access{}, key.ErrInvalid // not a key the gateway issued: no lookup
	}
	k, err := h.keys.ByHash(ctx, hash)
	if domain.KindOf(err) == domain.KindNotFound {
		return key.Access{}, key.ErrInvalid
	} else if err != nil {
		return key.Access{}, err
	}
	if k.Expired(h.clock()) {
		return key.Access{}, key.ErrInvalid
	}
	return k.Access(), nil
}

// ValidKeysHandler tells which keys still let their connections in: the keys revoked or
// expired since are missing from its result. The admin key ("") always does. It stands
// apart from App for the reason AuthenticateHandler does.
type ValidKeysHandler struct {
	keys  key.Repository
	clock Clock
}

func NewValidKeys(keys key.Repository, clock Clock) ValidKeysHandler {
	return ValidKeysHandler{keys: keys, clock: clock}
}

func (h ValidKeysHandler) Handle(ctx context.Context) (map[key.ID]bool, error) {
	all, err := h.keys.List(ctx)
	if err != nil {
		return nil, err
	}
	now := h.clock()
	valid := map[key.ID]bool{"": true}
	for _, k := range all {
		if !k.Expired(now) {
			valid[k.ID()] = true
		}
	}
	return valid, nil
}

type CreateKey struct {
	Name      string
	Role      string
	Devices   []string // empty: every device
	ExpiresAt time.Time
}

// CreatedKey is a new key with its secret, which is shown this once.
type CreatedKey struct {
	Key
	Secret string
}

type CreateKeyHandler struct {
	keys    key.Repository
	devices device.Repository
	clock   Clock
}

func (h CreateKeyHandler) Handle(ctx context.Context, cmd CreateKey) (CreatedKey, error) {
	role, err := key.ParseRole(cmd.Role)
	if err != nil {
		return CreatedKey{}, err
	}
	if len(cmd.Devices) > key.MaxDevices { // before looking each one up
		return CreatedKey{}, key.ErrTooManyDevices
	}
	ids := make([]device.ID, 0, len(cmd.Devices))
	for _, s := range cmd.Devices {
		id, err := device.ParseID(s)
		if err != nil {
			return CreatedKey{}, err
		}
		if _, err := h.devices.Get(ctx, id); err != nil {
			if domain.KindOf(err) == domain.KindNotFound {
				return CreatedKey{}, domain.Errorf(domain.KindInvalid, "device %s does not exist", id)
			}
			return CreatedKey{}, err
		}
		ids = append(ids, id)
	}
	k, secret, err := key.New(cmd.Name, role, ids, cmd.ExpiresAt, h.clock())
	if err != nil {
		return CreatedKey{}, err
	}
	if err := h.keys.Create(ctx, k); err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Key: keyView(k), Secret: secret}, nil
}

type ListKeysHandler struct {
	keys key.Repository
}

func (h ListKeysHandler) Handle(ctx context.Context) ([]Key, error) {
	all, err := h.keys.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(all))
	for _, k := range all {
		out = append(out, keyView(k))
	}
	return out, nil
}

type RevokeKey struct {
	ID string
}

type RevokeKeyHandler struct {
	keys key.Repository
}

// Handle deletes the key: the next call with it is refused, and the Socket.io gateway
// closes its connections at its next check.
func (h RevokeKeyHandler) Handle(ctx context.Context, cmd RevokeKey) error {
	id, err := key.ParseID(cmd.ID)
	if err != nil {
		return err
	}
	return h.keys.Delete(ctx, id)
}
