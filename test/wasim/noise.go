package wasim

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"

	"go.mau.fi/whatsmeow/util/gcmutil"
)

// noiseState is the responder side of WhatsApp's Noise_XX_25519_AESGCM_SHA256
// handshake. It mirrors whatsmeow's socket.NoiseHandshake step for step (the
// client's copy cannot be reused because its final key split is unexported
// and tied to the client's frame socket).
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newNoiseState(pattern string, header []byte) (*noiseState, error) {
	ns := &noiseState{}
	data := []byte(pattern)
	if len(data) == 32 {
		ns.hash = data
	} else {
		h := sha256.Sum256(data)
		ns.hash = h[:]
	}
	ns.salt = ns.hash
	var err error
	if ns.key, err = gcmutil.Prepare(ns.hash); err != nil {
		return nil, err
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.New()
	h.Write(ns.hash)
	h.Write(data)
	ns.hash = h.Sum(nil)
}

func (ns *noiseState) nextIV() []byte {
	iv := gcmIV(ns.counter)
	ns.counter++
	return iv
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ciphertext := ns.key.Seal(nil, ns.nextIV(), plaintext, ns.hash)
	ns.authenticate(ciphertext)
	return ciphertext
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	plaintext, err := ns.key.Open(nil, ns.nextIV(), ciphertext, ns.hash)
	if err != nil {
		return nil, err
	}
	ns.authenticate(ciphertext)
	return plaintext, nil
}

func (ns *noiseState) mixSharedSecret(priv, pub [32]byte) error {
	secret, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	ns.counter = 0
	write, read, err := extractAndExpand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.salt = write
	ns.key, err = gcmutil.Prepare(read)
	return err
}

// split derives the transport keys. The client writes with the first key and
// reads with the second, so the server uses them the other way round.
func (ns *noiseState) split() (write, read cipher.AEAD, err error) {
	clientWrite, clientRead, err := extractAndExpand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if write, err = gcmutil.Prepare(clientRead); err != nil {
		return nil, nil, err
	}
	if read, err = gcmutil.Prepare(clientWrite); err != nil {
		return nil, nil, err
	}
	return write, read, nil
}

func extractAndExpand(salt, data []byte) (write, read []byte, err error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	write = make([]byte, 32)
	read = make([]byte, 32)
	if _, err = io.ReadFull(h, write); err != nil {
		return nil, nil, err
	}
	if _, err = io.ReadFull(h, read); err != nil {
		return nil, nil, err
	}
	return write, read, nil
}

// gcmIV is the 12-byte nonce both handshake and transport use: eight zero
// bytes followed by a big-endian counter.
func gcmIV(counter uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], counter)
	return iv
}
