package wasim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"golang.org/x/crypto/curve25519"
	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waCert"
)

// Key is a Curve25519 private key. The simulator's root key is one: clients
// must trust its public half (whatsmeow.WACertPubKey) to accept the server's
// certificate.
type Key [32]byte

// TestRootKey is a fixed, publicly known root private key. Start uses it so
// that every simulator in a test process shares one root: whatsmeow trusts a
// single root key per process. Never use it for anything but tests.
var TestRootKey = func() Key {
	sum := sha256.Sum256([]byte("wasim deterministic test root key"))
	return clampKey(sum)
}()

// NewKey returns a fresh random private key.
func NewKey() (Key, error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, err
	}
	return clampKey(k), nil
}

// ParseKey decodes a hex private key as taken by -root-key / WASIM_ROOT_KEY.
func ParseKey(s string) (Key, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return Key{}, fmt.Errorf("root key is not hex: %w", err)
	}
	if len(raw) != 32 {
		return Key{}, fmt.Errorf("root key must be 32 bytes, got %d", len(raw))
	}
	return clampKey([32]byte(raw)), nil
}

// Public returns the Curve25519 public key of k.
func (k Key) Public() [32]byte {
	var pub [32]byte
	curve25519.ScalarBaseMult(&pub, (*[32]byte)(&k))
	return pub
}

// String returns the private key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

func (k Key) isZero() bool { return k == Key{} }

func clampKey(k [32]byte) Key {
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return Key(k)
}

// certificate serial numbers. whatsmeow requires the intermediate to be
// issued by serial 0 (WACertIssuerSerial) and the leaf by the intermediate.
const (
	intermediateSerial = 1
	leafSerial         = 2
)

// buildCertChain signs a fresh intermediate key with the root and the
// server's static Noise key with the intermediate, as verifyServerCert in
// whatsmeow's handshake.go expects.
func buildCertChain(root Key, serverStatic [32]byte) ([]byte, error) {
	intermediate, err := NewKey()
	if err != nil {
		return nil, err
	}
	notBefore := uint64(time.Now().Add(-24 * time.Hour).Unix())
	notAfter := uint64(time.Now().Add(20 * 365 * 24 * time.Hour).Unix())
	intermediatePub := intermediate.Public()
	intermediateDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(intermediateSerial),
		IssuerSerial: proto.Uint32(0),
		Key:          intermediatePub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, err
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(leafSerial),
		IssuerSerial: proto.Uint32(intermediateSerial),
		Key:          serverStatic[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, err
	}
	intermediateSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(root), intermediateDetails)
	leafSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(intermediate), leafDetails)
	return proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: intermediateDetails, Signature: intermediateSig[:]},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig[:]},
	})
}
