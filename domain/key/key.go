// Package key is who may call the gateway: API keys with a role, optionally limited to some
// devices and to a time. Besides the key from the configuration (the admin key), admins
// create keys through the API; each is shown once and stored only as a hash.
package key

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// MaxNameLength is the longest key name accepted, in characters.
const MaxNameLength = 100

// MaxDevices is how many devices one key may be limited to.
const MaxDevices = 1000

// ErrTooManyDevices refuses a key limited to more than MaxDevices devices.
var ErrTooManyDevices = domain.Errorf(domain.KindInvalid, "a key may be limited to at most %d devices", MaxDevices)

// Prefix starts every secret the gateway issues, so that leaked keys are easy to scan for.
const Prefix = "wag_"

// Role is what a key may do. A struct, so that no code outside this package can forge
// one from an arbitrary string: use the variables below or ParseRole.
type Role struct{ name string }

var (
	// RoleAdmin may do everything, including managing keys.
	RoleAdmin = Role{"admin"}
	// RoleOperator may do everything on its devices: read, send, connect, delete.
	RoleOperator = Role{"operator"}
	// RoleReadOnly may read its devices and listen to their events.
	RoleReadOnly = Role{"read-only"}
)

func (r Role) String() string { return r.name }

// ParseRole reads a role by its name.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleAdmin, RoleOperator, RoleReadOnly} {
		if r.name == s {
			return r, nil
		}
	}
	return Role{}, domain.Errorf(domain.KindInvalid, "role must be admin, operator or read-only")
}

// ID identifies a key; it is not secret.
type ID string

func (id ID) String() string { return string(id) }

// ParseID validates a key id given by a caller.
func ParseID(s string) (ID, error) {
	if len(s) != 2+idBytes*2 || !strings.HasPrefix(s, "k_") {
		return "", errInvalidID
	}
	if _, err := hex.DecodeString(s[2:]); err != nil || strings.ToLower(s) != s {
		return "", errInvalidID
	}
	return ID(s), nil
}

const idBytes = 8

var errInvalidID = domain.Errorf(domain.KindInvalid, "key id must look like k_0123456789abcdef")

// Hash is what is stored of a secret. Secrets are 256 random bits, so a plain SHA-256
// suffices: there is nothing to brute-force that a slow hash would protect.
type Hash [sha256.Size]byte

// HashOf hashes a secret a caller presents.
func HashOf(secret string) Hash { return sha256.Sum256([]byte(secret)) }

// Key is an API key created through the API.
type Key struct {
	id        ID
	name      string
	role      Role
	devices   []device.ID // sorted; empty: every device
	hash      Hash
	hint      string // the secret's first characters, to tell keys apart in listings
	createdAt time.Time
	expiresAt time.Time // zero: never
}

// Snapshot is the whole state of a key as plain values, for adapters.
type Snapshot struct {
	ID        ID
	Name      string
	Role      Role
	Devices   []device.ID
	Hash      Hash
	Hint      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// New creates a key and returns it with its secret, which exists nowhere else: the key
// keeps only its hash.
func New(name string, role Role, devices []device.ID, expiresAt, now time.Time) (*Key, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, "", domain.Errorf(domain.KindInvalid, "name must not be empty")
	case utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name):
		return nil, "", domain.Errorf(domain.KindInvalid, "name must be valid UTF-8 of at most %d characters", MaxNameLength)
	case role == Role{}:
		return nil, "", domain.Errorf(domain.KindInvalid, "role must be admin, operator or read-only")
	case role == RoleAdmin && len(devices) > 0:
		return nil, "", domain.Errorf(domain.KindInvalid, "an admin key manages every device and key: it cannot be limited to devices")
	case len(devices) > MaxDevices:
		return nil, "", ErrTooManyDevices
	case !expiresAt.IsZero() && !expiresAt.After(now):
		return nil, "", domain.Errorf(domain.KindInvalid, "expiresAt must be in the future")
	}
	devices = slices.Clone(devices)
	slices.Sort(devices)
	devices = slices.Compact(devices)
	var b [32 + idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	secret := Prefix + base64.RawURLEncoding.EncodeToString(b[:32])
	k := &Key{
		id: ID("k_" + hex.EncodeToString(b[32:])), name: name, role: role, devices: devices,
		hash: HashOf(secret), hint: secret[:len(Prefix)+4], createdAt: now.UTC().Truncate(time.Microsecond),
	}
	if !expiresAt.IsZero() {
		k.expiresAt = expiresAt.UTC().Truncate(time.Microsecond)
	}
	return k, secret, nil
}

// Rehydrate rebuilds a key from stored state. For adapters only: it skips validation.
func Rehydrate(s Snapshot) *Key {
	return &Key{id: s.ID, name: s.Name, role: s.Role, devices: slices.Clone(s.Devices), hash: s.Hash,
		hint: s.Hint, createdAt: s.CreatedAt, expiresAt: s.ExpiresAt}
}

// Snapshot returns the key's state as plain values.
func (k *Key) Snapshot() Snapshot {
	return Snapshot{ID: k.id, Name: k.name, Role: k.role, Devices: slices.Clone(k.devices), Hash: k.hash,
		Hint: k.hint, CreatedAt: k.createdAt, ExpiresAt: k.expiresAt}
}

func (k *Key) ID() ID { return k.id }

// Expired reports whether the key no longer lets anyone in at now.
func (k *Key) Expired(now time.Time) bool { return !k.expiresAt.IsZero() && !now.Before(k.expiresAt) }

// Access is what the key lets its holder do.
func (k *Key) Access() Access {
	a := Access{KeyID: k.id, Role: k.role, ExpiresAt: k.expiresAt}
	if len(k.devices) > 0 {
		a.devices = make(map[device.ID]struct{}, len(k.devices))
		for _, id := range k.devices {
			a.devices[id] = struct{}{}
		}
	}
	return a
}
