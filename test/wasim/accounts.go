package wasim

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// user is one phone number known to the simulator. Every user has a primary
// device (its phone, see party) that can send and decrypt messages; a user
// becomes an account once a companion device (a whatsmeow client) is linked.
// All fields are guarded by Server.mu.
type user struct {
	phone string
	lid   string // LID user part, e.g. "100000000000001"

	pushName     string
	businessName string

	phone0 *party // the phone's Signal identity; its identity key signs companions

	// rawID and nextKeyIndex feed ADVDeviceIdentity, as the real phone's do.
	rawID        uint32
	nextKeyIndex uint32
	nextDevice   uint16
	devices      map[uint16]*device
	isAccount    bool

	bannedUntil time.Time
	banCode     int

	sent     []SentMessage
	activity []Activity
}

func (u *user) pnJID() types.JID  { return types.NewJID(u.phone, types.DefaultUserServer) }
func (u *user) lidJID() types.JID { return types.NewJID(u.lid, types.HiddenUserServer) }

// device is a linked companion device. Its keys come from the registration
// payload the client sent while pairing and from its prekey uploads.
type device struct {
	user *user
	id   uint16

	noisePub       [32]byte
	identityPub    [32]byte
	registrationID uint32
	keyIndex       uint32
	signedPreKey   signedPreKey

	// Only a few one-time prekeys are kept (each new contact session uses
	// one); preKeyCount is what the server reports, so the client does not
	// re-upload 800 keys on every login.
	preKeys     []preKeyPub
	preKeyCount int

	logins int     // connections currently logged in as this device
	conns  []*conn // those connections, oldest first
	active *conn   // the connection messages are delivered to (sent <passive><active/>)

	pending  []pendingMessage         // encrypted for this device, not yet acknowledged, oldest first
	retries  map[string]waBinary.Node // real copies of messages sent undecryptable, by id (see handleRetry)
	flushing bool                     // a goroutine is writing pending messages to active (see flush)
}

func (d *device) pnJID() types.JID {
	return types.JID{User: d.user.phone, Device: d.id, Server: types.DefaultUserServer}
}

func (d *device) lidJID() types.JID {
	return types.JID{User: d.user.lid, Device: d.id, Server: types.HiddenUserServer}
}

type preKeyPub struct {
	id  uint32
	pub [32]byte
}

type signedPreKey struct {
	preKeyPub
	sig [64]byte
}

// maxStoredPreKeys bounds per-device memory: whatsmeow uploads 812 prekeys
// after pairing, but a test seldom opens more than a few contact sessions per
// device; past this the simulator hands out bundles without a one-time
// prekey, which Signal allows.
const maxStoredPreKeys = 16

// maxPendingPerDevice bounds the offline queue of one device.
const maxPendingPerDevice = 1000

// maxSentPerAccount bounds the log of decrypted outgoing messages per account.
const maxSentPerAccount = 10000

// normalizePhone accepts digits with an optional leading '+', as the control
// API promises, and rejects what whatsmeow's PairPhone would also reject.
func normalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	if len(s) < 7 || len(s) > 20 {
		return "", badRequest("invalid_phone", "phone number must have 7 to 20 digits, got %q", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", badRequest("invalid_phone", "phone number must be digits with an optional leading +, got %q", s)
		}
	}
	if s[0] == '0' {
		return "", badRequest("invalid_phone", "phone number must be international (no leading 0), got %q", s)
	}
	return s, nil
}

// userLocked returns the user for phone, creating it (and its phone's Signal
// identity) on first sight: every number is "on WhatsApp" in the simulator.
func (s *Server) userLocked(phone string) *user {
	if u := s.users[phone]; u != nil {
		return u
	}
	s.nextLID++
	u := &user{
		phone:      phone,
		lid:        strconv.FormatUint(s.nextLID, 10),
		rawID:      randomUint32(),
		nextDevice: 1,
		devices:    map[uint16]*device{},
		phone0:     newParty(),
	}
	s.users[phone] = u
	s.usersByLID[u.lid] = u
	return u
}

// userByJIDLocked resolves a phone-number or LID JID to a user. Unknown phone
// numbers are created; unknown LIDs are not (nobody could know them).
func (s *Server) userByJIDLocked(jid types.JID) *user {
	switch jid.Server {
	case types.DefaultUserServer, types.LegacyUserServer:
		if _, err := normalizePhone(jid.User); err != nil {
			return nil
		}
		return s.userLocked(jid.User)
	case types.HiddenUserServer:
		return s.usersByLID[jid.User]
	}
	return nil
}

func (s *Server) accountLocked(phone string) (*user, error) {
	u := s.users[phone]
	if u == nil || !u.isAccount {
		return nil, notFound("unknown_account", "no device was ever linked to %s", phone)
	}
	return u, nil
}

func (u *user) isBanned(now time.Time) bool { return now.Before(u.bannedUntil) }

func randomUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Account is what GET /control/accounts/{phone} returns: an account's
// linked devices and the messages each has not acknowledged yet.
type Account struct {
	Phone string    `json:"phoneNumber"`
	LID   types.JID `json:"lid"`
	// Pending is the sum of the devices' Pending.
	Pending int           `json:"pending"`
	Devices []DeviceState `json:"devices"`
}

// DeviceState is one linked device of an Account.
type DeviceState struct {
	DeviceID uint16    `json:"deviceId"`
	JID      types.JID `json:"jid"`
	LID      types.JID `json:"lid"`
	// Connected is whether a connection is logged in as the device.
	Connected bool `json:"connected"`
	// Pending counts the messages the device has not acknowledged (by a
	// receipt or an ack): delivered to a connection and not acknowledged
	// yet, or queued while it was offline. They are sent again, in this
	// order, at its next login. PendingIDs are their ids, oldest first.
	Pending    int      `json:"pending"`
	PendingIDs []string `json:"pendingIds"`
}

// Account returns the linked devices of account phone, by device id, with
// their pending messages.
func (s *Server) Account(phone string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		return Account{}, err
	}
	a := Account{Phone: u.phone, LID: u.lidJID(), Devices: make([]DeviceState, 0, len(u.devices))}
	for _, d := range u.devices {
		ds := DeviceState{DeviceID: d.id, JID: d.pnJID(), LID: d.lidJID(), Connected: d.logins > 0,
			Pending: len(d.pending), PendingIDs: make([]string, len(d.pending))}
		for i, p := range d.pending {
			ds.PendingIDs[i] = p.id
		}
		a.Pending += ds.Pending
		a.Devices = append(a.Devices, ds)
	}
	slices.SortFunc(a.Devices, func(x, y DeviceState) int { return int(x.DeviceID) - int(y.DeviceID) })
	return a, nil
}
