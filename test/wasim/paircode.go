package wasim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/pbkdf2"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
)

// The pairing-code flow (whatsmeow's pair-code.go, seen from the phone):
//
//  1. client → server: IQ link_code_companion_reg stage=companion_hello with
//     its ephemeral public key encrypted under a key derived from the
//     8-character code; the server answers with a pairing ref and the client
//     shows the code.
//  2. the user types the code on the phone (PairCode): the phone decrypts the
//     client's ephemeral key and sends its own, encrypted the same way, plus
//     its identity key, in a link_code_companion_reg notification.
//  3. client → server: IQ stage=companion_finish with a key bundle encrypted
//     under the ephemeral DH secret; both sides derive the adv secret from it.
//  4. the phone pairs the device exactly as after a QR scan (pair-success).

// linkCodeState is a client waiting for its pairing code to be entered.
type linkCodeState struct {
	phone      string
	ref        []byte
	wrappedEph []byte              // salt(32) | iv(16) | encrypted ephemeral key(32)
	finish     chan *waBinary.Node // companion_finish IQ, while PairCode waits for it
}

const linkCodeAlphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

// linkCodeIterations is whatsmeow's PBKDF2 work factor (2<<16).
const linkCodeIterations = 2 << 16

func (s *Server) handleLinkCodeIQ(c *conn, node *waBinary.Node, reg waBinary.Node) {
	switch reg.AttrGetter().OptionalString("stage") {
	case "companion_hello":
		jid, _ := reg.Attrs["jid"].(types.JID)
		phone, err := normalizePhone(jid.User)
		wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		authKey, _ := reg.GetChildByTag("companion_server_auth_key_pub").Content.([]byte)
		if err != nil || len(wrapped) != 80 || !bytes.Equal(authKey, c.clientStatic[:]) {
			_ = c.send(iqError(node, 400, "bad-request"))
			return
		}
		ref := []byte("2@" + base64.RawURLEncoding.EncodeToString(randomBytes(16)))
		s.mu.Lock()
		if c.reg == nil || c.paired || c.pairing {
			s.mu.Unlock()
			_ = c.send(iqError(node, 409, "conflict"))
			return
		}
		if old := c.linkCode; old != nil && s.linkCodes[old.phone] == c {
			delete(s.linkCodes, old.phone)
		}
		c.linkCode = &linkCodeState{phone: phone, ref: ref, wrappedEph: wrapped}
		s.linkCodes[phone] = c
		s.mu.Unlock()
		_ = c.send(iqResult(node, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: ref},
		}}))
	case "companion_finish":
		s.mu.Lock()
		var ch chan *waBinary.Node
		if c.linkCode != nil {
			ch = c.linkCode.finish
		}
		s.mu.Unlock()
		if ch == nil {
			_ = c.send(iqError(node, 400, "bad-request"))
			return
		}
		select {
		case ch <- node: // PairCode answers it
		default:
			_ = c.send(iqError(node, 409, "conflict"))
		}
	default:
		_ = c.send(iqError(node, 400, "bad-request"))
	}
}

// PairCodeRequest is a phone entering the pairing code a client displays.
type PairCodeRequest struct {
	PhoneNumber string `json:"phoneNumber"`
	// Code is what Client.PairPhone returned, like "ABCD-EFGH" (the dash
	// and case do not matter).
	Code         string `json:"code"`
	PushName     string `json:"pushName,omitempty"`
	BusinessName string `json:"businessName,omitempty"`
}

func normalizeLinkCode(code string) (string, error) {
	code = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	if len(code) != 8 {
		return "", badRequest("invalid_code", "pairing code must have 8 characters")
	}
	for _, r := range code {
		if !strings.ContainsRune(linkCodeAlphabet, r) {
			return "", badRequest("invalid_code", "pairing code has a character outside %s", linkCodeAlphabet)
		}
	}
	return code, nil
}

// PairCode is a phone entering a pairing code: it links the client that
// asked for a code for this phone number (Client.PairPhone) and returns
// once the client has accepted the pairing. A wrong code fails with
// code "wrong_code"; the client keeps waiting and the right code can still
// be entered.
func (s *Server) PairCode(ctx context.Context, req PairCodeRequest) (LinkedDevice, error) {
	phone, err := normalizePhone(req.PhoneNumber)
	if err != nil {
		return LinkedDevice{}, err
	}
	code, err := normalizeLinkCode(req.Code)
	if err != nil {
		return LinkedDevice{}, err
	}
	finish := make(chan *waBinary.Node, 1)
	s.mu.Lock()
	c := s.linkCodes[phone]
	if c == nil {
		s.mu.Unlock()
		return LinkedDevice{}, notFound("no_pending_code", "no connected client asked for a pairing code for %s", phone)
	}
	if c.pairing || c.paired || c.ending {
		s.mu.Unlock()
		return LinkedDevice{}, conflict("not_pairable", "this client is already being paired")
	}
	lc := c.linkCode
	c.pairing = true
	lc.finish = finish
	accountKey := s.userLocked(phone).phone0.identity
	s.mu.Unlock()
	fail := func(err error) (LinkedDevice, error) {
		s.mu.Lock()
		c.pairing = false
		lc.finish = nil
		s.mu.Unlock()
		return LinkedDevice{}, err
	}

	companionEph := linkCodeCTR(code, lc.wrappedEph[0:32], lc.wrappedEph[32:48], lc.wrappedEph[48:80])
	primaryEph := keys.NewKeyPair()
	salt, iv := randomBytes(32), randomBytes(16)
	wrappedPrimary := concat(salt, iv, linkCodeCTR(code, salt, iv, primaryEph.Pub[:]))

	err = c.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": types.ServerJID,
		"id":   s.newStanzaID(),
		"type": "link_code_companion_reg",
		"t":    strconv.FormatInt(time.Now().Unix(), 10),
	}, Content: []waBinary.Node{{Tag: "link_code_companion_reg", Attrs: waBinary.Attrs{"stage": "primary_hello"}, Content: []waBinary.Node{
		{Tag: "link_code_pairing_ref", Content: lc.ref},
		{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrappedPrimary},
		{Tag: "primary_identity_pub", Content: accountKey.Pub[:]},
	}}}})
	if err != nil {
		return fail(conflict("pair_failed", "cannot reach the client: %v", err))
	}

	waitCtx, cancel := context.WithTimeout(ctx, s.opts.PairTimeout)
	defer cancel()
	var fin *waBinary.Node
	select {
	case fin = <-finish:
	case <-waitCtx.Done():
		return fail(conflict("pair_failed", "client did not finish the code pairing: %v", waitCtx.Err()))
	case <-c.ctx.Done():
		return fail(conflict("pair_failed", "client disconnected"))
	}
	advSecret, ok := s.openKeyBundle(fin, primaryEph, companionEph, accountKey, c.reg.identityPub)
	if !ok {
		_ = c.send(iqError(fin, 400, "bad-request"))
		return fail(badRequest("wrong_code", "the code does not match the one the client shows"))
	}
	if err := c.send(iqResult(fin)); err != nil {
		return fail(conflict("pair_failed", "cannot reach the client: %v", err))
	}
	s.mu.Lock()
	lc.finish = nil
	s.mu.Unlock()
	return s.pair(ctx, c, phone, req.PushName, req.BusinessName, advSecret)
}

// openKeyBundle decrypts the companion_finish key bundle and derives the
// adv secret, mirroring handleCodePairNotification. It fails when the phone
// used a different code than the client, because the ephemeral keys then do
// not agree.
func (s *Server) openKeyBundle(fin *waBinary.Node, primaryEph *keys.KeyPair, companionEph []byte, account *keys.KeyPair, companionIdentity [32]byte) ([]byte, bool) {
	reg := fin.GetChildByTag("link_code_companion_reg")
	wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	if len(wrapped) < 32+12+16 {
		return nil, false
	}
	ephShared, err := curve25519.X25519(primaryEph.Priv[:], companionEph)
	if err != nil {
		return nil, false
	}
	key := hkdfutil.SHA256(ephShared, wrapped[:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, false
	}
	bundle, err := gcm.Open(nil, wrapped[32:44], wrapped[44:], nil)
	if err != nil || len(bundle) != 96 {
		return nil, false
	}
	if !bytes.Equal(bundle[:32], companionIdentity[:]) || !bytes.Equal(bundle[32:64], account.Pub[:]) {
		return nil, false
	}
	identityShared, err := curve25519.X25519(account.Priv[:], companionIdentity[:])
	if err != nil {
		return nil, false
	}
	return hkdfutil.SHA256(concat(ephShared, identityShared, bundle[64:96]), nil, []byte("adv_secret"), 32), true
}

// linkCodeCTR is the AES-CTR wrapping of an ephemeral key under the code.
func linkCodeCTR(code string, salt, iv, data []byte) []byte {
	key := pbkdf2.Key([]byte(code), salt, linkCodeIterations, 32, sha256.New)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(data))
	cipher.NewCTR(block, iv).XORKeyStream(out, data)
	return out
}
