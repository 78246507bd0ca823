package wasim

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"go.mau.fi/libsignal/ecc"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/state/store"
	"go.mau.fi/libsignal/util/optional"

	waBinary "go.mau.fi/whatsmeow/binary"
	waStore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/util/keys"
)

var serializer = waStore.SignalProtobufSerializer

// party is the primary device (device 0, "the phone") of a simulated user:
// a complete in-memory Signal protocol store. Contacts use it to encrypt what
// they send to linked devices and to decrypt what linked devices send them;
// an account's phone uses its identity key to sign companion devices.
//
// Sessions are kept serialized, like whatsmeow's sqlstore keeps them, so a
// failed decryption cannot leave a half-mutated record behind.
type party struct {
	mu             sync.Mutex
	identity       *keys.KeyPair
	registrationID uint32
	signedPreKey   *keys.PreKey
	nextPreKeyID   uint32
	preKeys        map[uint32]*keys.PreKey // handed out in bundles, not yet used
	sessions       map[string][]byte
	identities     map[string][32]byte
}

var _ store.SignalProtocol = (*party)(nil)

func newParty() *party {
	identityKP := keys.NewKeyPair()
	return &party{
		identity:       identityKP,
		registrationID: randomUint32()&0x3fff + 1,
		signedPreKey:   identityKP.CreateSignedPreKey(1),
		nextPreKeyID:   1,
		preKeys:        map[uint32]*keys.PreKey{},
		sessions:       map[string][]byte{},
		identities:     map[string][32]byte{},
	}
}

// maxPartyPreKeys bounds the prekeys a party hands out but never sees used
// (a client fetched a bundle and then failed to send).
const maxPartyPreKeys = 64

// bundleNode answers an <encrypt><key> request for this party's device 0: a
// fresh one-time prekey plus the signed prekey, in prekeys.go's format.
func (p *party) bundleNode(jid any) waBinary.Node {
	p.mu.Lock()
	if len(p.preKeys) >= maxPartyPreKeys {
		clear(p.preKeys)
	}
	pk := keys.NewPreKey(p.nextPreKeyID)
	p.nextPreKeyID = (p.nextPreKeyID % 0xfffffe) + 1
	p.preKeys[pk.KeyID] = pk
	regID, identityPub, spk := p.registrationID, *p.identity.Pub, p.signedPreKey
	p.mu.Unlock()
	return bundleUserNode(jid, regID, identityPub,
		&preKeyPub{id: pk.KeyID, pub: *pk.Pub},
		signedPreKey{preKeyPub: preKeyPub{id: spk.KeyID, pub: *spk.Pub}, sig: *spk.Signature})
}

func bundleUserNode(jid any, regID uint32, identityPub [32]byte, pk *preKeyPub, spk signedPreKey) waBinary.Node {
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], regID)
	children := []waBinary.Node{
		{Tag: "registration", Content: reg[:]},
		{Tag: "type", Content: []byte{ecc.DjbType}},
		{Tag: "identity", Content: identityPub[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: keyID3(spk.id)},
			{Tag: "value", Content: spk.pub[:]},
			{Tag: "signature", Content: spk.sig[:]},
		}},
	}
	if pk != nil {
		children = append(children, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID3(pk.id)},
			{Tag: "value", Content: pk.pub[:]},
		}})
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: children}
}

func keyID3(id uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return b[1:]
}

// deviceBundle is the prekey bundle of a linked device, built from what it
// registered and uploaded. It consumes one stored one-time prekey.
func deviceBundle(d *device) *prekey.Bundle {
	var preKeyID *optional.Uint32
	var preKeyPubKey ecc.ECPublicKeyable
	if len(d.preKeys) > 0 {
		pk := d.preKeys[0]
		d.preKeys = d.preKeys[1:]
		preKeyID = optional.NewOptionalUint32(pk.id)
		preKeyPubKey = ecc.NewDjbECPublicKey(pk.pub)
	} else {
		preKeyID = optional.NewEmptyUint32()
	}
	if d.preKeyCount > 0 {
		d.preKeyCount--
	}
	return prekey.NewBundle(d.registrationID, uint32(d.id), preKeyID, d.signedPreKey.id,
		preKeyPubKey, ecc.NewDjbECPublicKey(d.signedPreKey.pub), d.signedPreKey.sig,
		identity.NewKey(ecc.NewDjbECPublicKey(d.identityPub)))
}

// encryptMessage encrypts plaintext (already padded) for the device at addr,
// setting up a session from bundle() first if there is none.
func (p *party) encryptMessage(ctx context.Context, addr *protocol.SignalAddress, bundle func() *prekey.Bundle, plaintext []byte) ([]byte, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	builder := session.NewBuilderFromSignal(p, addr, serializer)
	if _, ok := p.sessions[addr.String()]; !ok {
		if err := builder.ProcessBundle(ctx, bundle()); err != nil {
			return nil, "", fmt.Errorf("process bundle: %w", err)
		}
	}
	ct, err := session.NewCipher(builder, addr).Encrypt(ctx, plaintext)
	if err != nil {
		return nil, "", fmt.Errorf("encrypt: %w", err)
	}
	encType := "msg"
	if ct.Type() == protocol.PREKEY_TYPE {
		encType = "pkmsg"
	}
	return ct.Serialize(), encType, nil
}

// decrypt decrypts an <enc type="pkmsg"|"msg"> payload from the device at addr.
func (p *party) decrypt(ctx context.Context, addr *protocol.SignalAddress, encType string, content []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	builder := session.NewBuilderFromSignal(p, addr, serializer)
	cipher := session.NewCipher(builder, addr)
	switch encType {
	case "pkmsg":
		msg, err := protocol.NewPreKeySignalMessageFromBytes(content, serializer.PreKeySignalMessage, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse prekey message: %w", err)
		}
		return cipher.DecryptMessage(ctx, msg)
	case "msg":
		msg, err := protocol.NewSignalMessageFromBytes(content, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse message: %w", err)
		}
		return cipher.Decrypt(ctx, msg)
	}
	return nil, fmt.Errorf("unsupported enc type %q", encType)
}

// padMessage and unpadMessage mirror whatsmeow's v2 message padding.
func padMessage(plaintext []byte) []byte {
	n := randomBytes(1)[0] & 0xf
	if n == 0 {
		n = 0xf
	}
	return append(plaintext, bytes.Repeat([]byte{n}, int(n))...)
}

func unpadMessage(plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, fmt.Errorf("plaintext is empty")
	}
	n := int(plaintext[len(plaintext)-1])
	if n == 0 || n > len(plaintext) || !bytes.Equal(plaintext[len(plaintext)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, fmt.Errorf("invalid padding")
	}
	return plaintext[:len(plaintext)-n], nil
}

// --- store.SignalProtocol; called by libsignal with p.mu held ---

func (p *party) GetIdentityKeyPair() *identity.KeyPair {
	return identity.NewKeyPair(identity.NewKey(ecc.NewDjbECPublicKey(*p.identity.Pub)), ecc.NewDjbECPrivateKey(*p.identity.Priv))
}

func (p *party) GetLocalRegistrationID() uint32 { return p.registrationID }

func (p *party) SaveIdentity(_ context.Context, addr *protocol.SignalAddress, key *identity.Key) error {
	p.identities[addr.String()] = key.PublicKey().PublicKey()
	return nil
}

// IsTrustedIdentity trusts every key: a relinked device legitimately brings a
// new identity, and the simulator is not the place to test key verification.
func (p *party) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

func (p *party) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	pk := p.preKeys[id]
	if pk == nil {
		return nil, nil
	}
	return record.NewPreKey(id, ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*pk.Pub), ecc.NewDjbECPrivateKey(*pk.Priv)), nil), nil
}

func (p *party) StorePreKey(context.Context, uint32, *record.PreKey) error { return nil }

func (p *party) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	_, ok := p.preKeys[id]
	return ok, nil
}

func (p *party) RemovePreKey(_ context.Context, id uint32) error {
	delete(p.preKeys, id)
	return nil
}

func (p *party) LoadSession(_ context.Context, addr *protocol.SignalAddress) (*record.Session, error) {
	raw, ok := p.sessions[addr.String()]
	if !ok {
		return record.NewSession(serializer.Session, serializer.State), nil
	}
	return record.NewSessionFromBytes(raw, serializer.Session, serializer.State)
}

func (p *party) GetSubDeviceSessions(context.Context, string) ([]uint32, error) { return nil, nil }

func (p *party) StoreSession(_ context.Context, addr *protocol.SignalAddress, rec *record.Session) error {
	p.sessions[addr.String()] = rec.Serialize()
	return nil
}

func (p *party) ContainsSession(_ context.Context, addr *protocol.SignalAddress) (bool, error) {
	_, ok := p.sessions[addr.String()]
	return ok, nil
}

func (p *party) DeleteSession(_ context.Context, addr *protocol.SignalAddress) error {
	delete(p.sessions, addr.String())
	return nil
}

func (p *party) DeleteAllSessions(context.Context) error {
	clear(p.sessions)
	return nil
}

func (p *party) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	if id != p.signedPreKey.KeyID {
		return nil, nil
	}
	spk := p.signedPreKey
	return record.NewSignedPreKey(id, 0, ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*spk.Pub), ecc.NewDjbECPrivateKey(*spk.Priv)), *spk.Signature, nil), nil
}

func (p *party) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	spk, err := p.LoadSignedPreKey(ctx, p.signedPreKey.KeyID)
	return []*record.SignedPreKey{spk}, err
}

func (p *party) StoreSignedPreKey(context.Context, uint32, *record.SignedPreKey) error { return nil }

func (p *party) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	return id == p.signedPreKey.KeyID, nil
}

func (p *party) RemoveSignedPreKey(context.Context, uint32) error { return nil }

// Group sender keys are not simulated.
func (p *party) StoreSenderKey(context.Context, *protocol.SenderKeyName, *groupRecord.SenderKey) error {
	return nil
}

func (p *party) LoadSenderKey(context.Context, *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	return groupRecord.NewSenderKey(serializer.SenderKeyRecord, serializer.SenderKeyState), nil
}
