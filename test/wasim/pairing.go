package wasim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
)

// registration holds the keys an unpaired client sent in its handshake
// payload (store.Device.getRegistrationPayload in whatsmeow). They become
// the linked device's keys once a phone pairs it.
type registration struct {
	registrationID uint32
	identityPub    [32]byte
	signedPreKey   signedPreKey
}

func parseRegistration(p *waWa6.ClientPayload) (*registration, error) {
	d := p.GetDevicePairingData()
	if d == nil {
		return nil, errors.New("payload has neither username nor pairing data")
	}
	if len(d.GetERegid()) != 4 || len(d.GetEIdent()) != 32 || len(d.GetESkeyID()) != 3 ||
		len(d.GetESkeyVal()) != 32 || len(d.GetESkeySig()) != 64 {
		return nil, errors.New("malformed pairing data")
	}
	id := d.GetESkeyID()
	return &registration{
		registrationID: binary.BigEndian.Uint32(d.GetERegid()),
		identityPub:    [32]byte(d.GetEIdent()),
		signedPreKey: signedPreKey{
			preKeyPub: preKeyPub{id: uint32(id[0])<<16 | uint32(id[1])<<8 | uint32(id[2]), pub: [32]byte(d.GetESkeyVal())},
			sig:       [64]byte(d.GetESkeySig()),
		},
	}, nil
}

// qrRefCount is how many QR refs the server hands out per connection;
// whatsmeow shows them for 60s, then 20s each, and disconnects after the last.
const qrRefCount = 6

// startPairing answers a registration handshake with <pair-device> and its
// QR refs (pair.go handlePairDevice in whatsmeow).
func (s *Server) startPairing(c *conn, payload *waWa6.ClientPayload) error {
	reg, err := parseRegistration(payload)
	if err != nil {
		return err
	}
	c.reg = reg
	refs := make([]waBinary.Node, qrRefCount)
	s.mu.Lock()
	for i := range refs {
		ref := "2@" + base64.RawURLEncoding.EncodeToString(randomBytes(24))
		s.refs[ref] = c
		c.refs = append(c.refs, ref)
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	s.mu.Unlock()
	return c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"from":  types.ServerJID,
		"type":  "set",
		"id":    s.newStanzaID(),
		"xmlns": "md",
	}, Content: []waBinary.Node{{Tag: "pair-device", Content: refs}}})
}

// ScanRequest is a phone scanning a QR code shown by a client.
type ScanRequest struct {
	// QR is the string whatsmeow put in events.QR / the QR channel.
	QR string `json:"qr"`
	// PhoneNumber is the account the phone belongs to (digits, optional +).
	PhoneNumber string `json:"phoneNumber"`
	// PushName is the account's display name (optional).
	PushName string `json:"pushName,omitempty"`
	// BusinessName makes the account a business account (optional); it is
	// reported in events.PairSuccess.BusinessName.
	BusinessName string `json:"businessName,omitempty"`
}

// LinkedDevice describes a device that was just linked.
type LinkedDevice struct {
	Phone    string    `json:"phoneNumber"`
	DeviceID uint16    `json:"deviceId"`
	JID      types.JID `json:"jid"`
	LID      types.JID `json:"lid"`
}

// qrData is what the phone reads from a QR code: whatsmeow's makeQRData
// joins ref, Noise public key, identity public key, adv secret and client
// type with commas after the linked_devices URL.
type qrData struct {
	ref             string
	noise, identity []byte
	advSecret       []byte
}

func parseQR(qr string) (qrData, error) {
	if i := strings.LastIndexByte(qr, '#'); i >= 0 {
		qr = qr[i+1:]
	}
	parts := strings.Split(strings.TrimSpace(qr), ",")
	if len(parts) < 4 || parts[0] == "" {
		return qrData{}, badRequest("invalid_qr", "QR code must be ref,noiseKey,identityKey,advSecret[,clientType]")
	}
	var q qrData
	q.ref = parts[0]
	for i, dst := range []*[]byte{&q.noise, &q.identity, &q.advSecret} {
		b, err := base64.StdEncoding.DecodeString(parts[i+1])
		if err != nil || len(b) != 32 {
			return qrData{}, badRequest("invalid_qr", "QR code field %d is not a base64 32-byte key", i+2)
		}
		*dst = b
	}
	return q, nil
}

// Scan is a phone scanning a QR code: it links the client that shows it to
// the phone's account and returns once the client has accepted the pairing.
// The client then gets events.PairSuccess, reconnects (stream error 515),
// logs in and gets events.Connected.
func (s *Server) Scan(ctx context.Context, req ScanRequest) (LinkedDevice, error) {
	phone, err := normalizePhone(req.PhoneNumber)
	if err != nil {
		return LinkedDevice{}, err
	}
	q, err := parseQR(req.QR)
	if err != nil {
		return LinkedDevice{}, err
	}
	s.mu.Lock()
	c := s.refs[q.ref]
	switch {
	case c == nil:
		s.mu.Unlock()
		return LinkedDevice{}, notFound("unknown_qr", "no connected client shows this QR code (expired or already used?)")
	case c.pairing || c.paired || c.ending:
		s.mu.Unlock()
		return LinkedDevice{}, conflict("not_pairable", "this client is already being paired")
	case !bytes.Equal(q.noise, c.clientStatic[:]) || !bytes.Equal(q.identity, c.reg.identityPub[:]):
		s.mu.Unlock()
		return LinkedDevice{}, badRequest("qr_mismatch", "the QR code's keys do not match the client that was given this ref")
	}
	c.pairing = true
	s.mu.Unlock()
	return s.pair(ctx, c, phone, req.PushName, req.BusinessName, q.advSecret)
}

// pair links connection c (already marked pairing) to phone's account: the
// phone signs the new device identity with its account key and
// authenticates it with the adv secret the client shared (QR code) or
// derived (pairing code). See handlePair in whatsmeow's pair.go.
func (s *Server) pair(ctx context.Context, c *conn, phone, pushName, businessName string, advSecret []byte) (LinkedDevice, error) {
	fail := func(err error) (LinkedDevice, error) {
		s.mu.Lock()
		c.pairing = false
		s.mu.Unlock()
		return LinkedDevice{}, err
	}
	s.mu.Lock()
	u := s.userLocked(phone)
	if pushName != "" {
		u.pushName = pushName
	}
	if businessName != "" {
		u.businessName = businessName
	}
	devID := u.nextDevice
	u.nextDevice++
	u.nextKeyIndex++
	keyIndex := u.nextKeyIndex
	rawID := u.rawID
	accountKey := u.phone0.identity // immutable after creation
	businessName = u.businessName
	for _, ref := range c.refs {
		delete(s.refs, ref)
	}
	jid := types.JID{User: u.phone, Device: devID, Server: types.DefaultUserServer}
	lid := types.JID{User: u.lid, Device: devID, Server: types.HiddenUserServer}
	s.mu.Unlock()

	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(rawID),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(keyIndex),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return fail(internalError(err))
	}
	accountSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*accountKey.Priv),
		concat([]byte{6, 0}, details, c.reg.identityPub[:]))
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details:             details,
		AccountSignatureKey: accountKey.Pub[:],
		AccountSignature:    accountSig[:],
	})
	if err != nil {
		return fail(internalError(err))
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details:     signed,
		HMAC:        mac.Sum(nil),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return fail(internalError(err))
	}
	platform := "android"
	children := []waBinary.Node{
		{Tag: "device-identity", Attrs: waBinary.Attrs{"key-index": strconv.Itoa(int(keyIndex))}, Content: container},
		{Tag: "device", Attrs: waBinary.Attrs{"jid": jid, "lid": lid}},
	}
	if businessName != "" {
		platform = "smba"
		children = append(children, waBinary.Node{Tag: "biz", Attrs: waBinary.Attrs{"name": businessName}})
	}
	children = append(children, waBinary.Node{Tag: "platform", Attrs: waBinary.Attrs{"name": platform}})

	ctx, cancel := context.WithTimeout(ctx, s.opts.PairTimeout)
	defer cancel()
	resp, err := c.request(ctx, waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"from":  types.ServerJID,
		"type":  "set",
		"id":    s.newStanzaID(),
		"xmlns": "md",
		"t":     strconv.FormatInt(time.Now().Unix(), 10),
	}, Content: []waBinary.Node{{Tag: "pair-success", Content: children}}})
	if err != nil {
		return fail(conflict("pair_failed", "client did not answer pair-success: %v", err))
	}
	if t, _ := resp.Attrs["type"].(string); t != "result" {
		return fail(conflict("pair_rejected", "client rejected the pairing: %s", resp.String()))
	}
	if err := verifyDeviceSignature(resp, accountKey.Pub[:], c.reg.identityPub); err != nil {
		return fail(conflict("pair_rejected", "%v", err))
	}

	s.mu.Lock()
	d := &device{
		user:           u,
		id:             devID,
		noisePub:       c.clientStatic,
		identityPub:    c.reg.identityPub,
		registrationID: c.reg.registrationID,
		keyIndex:       keyIndex,
		signedPreKey:   c.reg.signedPreKey,
	}
	u.devices[devID] = d
	u.isAccount = true
	s.pairedDevices++
	c.paired = true
	c.pairing = false
	s.mu.Unlock()
	s.log.Info("device linked", "jid", jid, "lid", lid)

	// The real server restarts the stream after pairing; the client
	// reconnects and logs in with its new identity.
	go c.endWith(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
	return LinkedDevice{Phone: phone, DeviceID: devID, JID: jid, LID: lid}, nil
}

// verifyDeviceSignature checks the pair-device-sign answer: the client
// countersigns the identity the phone issued (generateDeviceSignature).
func verifyDeviceSignature(resp *waBinary.Node, accountPub []byte, devicePub [32]byte) error {
	raw, ok := resp.GetChildByTag("pair-device-sign", "device-identity").Content.([]byte)
	if !ok {
		return errors.New("pair-device-sign has no device-identity")
	}
	var signed waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(raw, &signed); err != nil {
		return fmt.Errorf("parse signed device identity: %w", err)
	}
	if len(signed.GetDeviceSignature()) != 64 {
		return errors.New("device signature missing")
	}
	msg := concat([]byte{6, 1}, signed.GetDetails(), devicePub[:], accountPub)
	if !ecc.VerifySignature(ecc.NewDjbECPublicKey(devicePub), msg, [64]byte(signed.GetDeviceSignature())) {
		return errors.New("device signature does not verify")
	}
	return nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
