package device

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/wagate/wagate/domain"
)

// ID identifies a device: a UUID in its canonical lowercase text form. Version 7 UUIDs are
// issued, so that IDs sort in creation order; any well-formed UUID is accepted.
type ID string

// NewID returns a new version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then random bits.
func NewID(now time.Time) ID {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return ID(b[:])
}

// ParseID validates a device ID given by a caller and returns its canonical form.
func ParseID(s string) (ID, error) {
	if len(s) != 36 {
		return "", errInvalidID
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", errInvalidID
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", errInvalidID
		}
	}
	return ID(strings.ToLower(s)), nil
}

var errInvalidID = domain.Errorf(domain.KindInvalid, "device id must be a UUID such as 0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f")

func (id ID) String() string { return string(id) }
