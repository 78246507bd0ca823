// Package device is the heart of the gateway: a linked WhatsApp account ("device"), its
// life as a state machine, the events it emits, and the ports it needs.
package device

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wagate/wagate/domain"
)

// MaxNameLength is the longest device name accepted, in characters.
const MaxNameLength = 100

// Device is a WhatsApp account linked (or being linked) to the gateway. Its fields are
// changed only through its methods, which enforce the state machine in status.go.
type Device struct {
	id                   ID
	name                 string
	status               Status
	jid                  string
	phoneNumber          string
	pushName             string
	businessName         string
	lastDisconnectReason Reason
	banExpiresAt         time.Time
	qr                   string
	qrExpiresAt          time.Time
	createdAt            time.Time
	updatedAt            time.Time
	lastConnectedAt      time.Time

	events []Event // recorded by state changes, taken by PullEvents once persisted
}

// Snapshot is the whole state of a device as plain values: what adapters store and what
// read models are built from. Zero times mean "never".
type Snapshot struct {
	ID                   ID
	Name                 string
	Status               Status
	JID                  string // user.device:agent@s.whatsapp.net once linked
	PhoneNumber          string // digits only, once linked
	PushName             string
	BusinessName         string
	LastDisconnectReason Reason
	BanExpiresAt         time.Time // when the temporary ban that stopped the device ends
	QR                   string    // the QR code waiting to be scanned, while pairing
	QRExpiresAt          time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	LastConnectedAt      time.Time
}

// New creates a device that has never been connected.
func New(name string, now time.Time) (*Device, error) {
	name, err := validName(name)
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	return &Device{id: NewID(now), name: name, status: StatusCreated, createdAt: now, updatedAt: now}, nil
}

// Rehydrate rebuilds a device from stored state. For adapters only: it skips validation,
// because what was stored was valid when it was stored.
func Rehydrate(s Snapshot) *Device {
	return &Device{
		id: s.ID, name: s.Name, status: s.Status, jid: s.JID, phoneNumber: s.PhoneNumber,
		pushName: s.PushName, businessName: s.BusinessName, lastDisconnectReason: s.LastDisconnectReason,
		banExpiresAt: s.BanExpiresAt, qr: s.QR, qrExpiresAt: s.QRExpiresAt,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, lastConnectedAt: s.LastConnectedAt,
	}
}

// Snapshot returns the device's state as plain values.
func (d *Device) Snapshot() Snapshot {
	return Snapshot{
		ID: d.id, Name: d.name, Status: d.status, JID: d.jid, PhoneNumber: d.phoneNumber,
		PushName: d.pushName, BusinessName: d.businessName, LastDisconnectReason: d.lastDisconnectReason,
		BanExpiresAt: d.banExpiresAt, QR: d.qr, QRExpiresAt: d.qrExpiresAt,
		CreatedAt: d.createdAt, UpdatedAt: d.updatedAt, LastConnectedAt: d.lastConnectedAt,
	}
}

func (d *Device) ID() ID         { return d.id }
func (d *Device) Status() Status { return d.status }

// JID is the device's WhatsApp address once linked, "" before.
func (d *Device) JID() string { return d.jid }

// Recorded returns the events recorded since the last PullEvents without taking them:
// for callers that watch a change, such as the log line of a change of status.
func (d *Device) Recorded() []Event { return slices.Clip(d.events) }

// PullEvents returns the events recorded since the last call and forgets them. Callers
// publish them once the change that produced them is stored.
func (d *Device) PullEvents() []Event {
	ev := d.events
	d.events = nil
	return ev
}

// Rename changes the device's display name.
func (d *Device) Rename(name string, now time.Time) error {
	name, err := validName(name)
	if err != nil {
		return err
	}
	d.name = name
	d.updatedAt = stamp(now)
	return nil
}

// Connect starts a session: from a stopped, logged-out or failed device, or a new one.
func (d *Device) Connect(now time.Time) error {
	if d.status.Live() {
		return domain.Errorf(domain.KindConflict, "device is already %s", d.status)
	}
	return d.moveTo(StatusConnecting, CauseConnect, now)
}

// Disconnect stops the session on request. A linked session is kept for the next Connect.
func (d *Device) Disconnect(now time.Time) error {
	if !d.status.Live() {
		return domain.Errorf(domain.KindConflict, "device is not connected (status %s)", d.status)
	}
	return d.disconnect(StatusDisconnected, ReasonStopped, now)
}

// LogOut removes the link to the WhatsApp account; connecting again pairs anew.
func (d *Device) LogOut(reason Reason, now time.Time) error {
	if d.jid == "" {
		return domain.Errorf(domain.KindConflict, "device is not linked to a WhatsApp account (status %s)", d.status)
	}
	if err := d.disconnect(StatusLoggedOut, reason, now); err != nil {
		return err
	}
	d.jid, d.phoneNumber, d.pushName, d.businessName = "", "", "", ""
	return nil
}

// ShowQR records a new QR code for the phone to scan. The first one moves the device to
// pairing; later ones replace it.
func (d *Device) ShowQR(code string, expiresAt, now time.Time) error {
	if code == "" {
		return domain.Errorf(domain.KindInvalid, "empty QR code")
	}
	if d.status != StatusPairing {
		if err := d.moveTo(StatusPairing, CauseQR, now); err != nil {
			return err
		}
	}
	d.qr, d.qrExpiresAt, d.updatedAt = code, stamp(expiresAt), stamp(now)
	d.record(QR{header(d.id, now), code, stamp(expiresAt)})
	return nil
}

// CurrentQR returns the QR code waiting to be scanned, if the device is pairing and the
// code has not expired.
func (d *Device) CurrentQR(now time.Time) (code string, expiresAt time.Time, ok bool) {
	if d.status != StatusPairing || d.qr == "" || !now.Before(d.qrExpiresAt) {
		return "", time.Time{}, false
	}
	return d.qr, d.qrExpiresAt, true
}

// Authenticate records that the phone accepted the link.
func (d *Device) Authenticate(l Link, now time.Time) error {
	if l.JID == "" {
		return domain.Errorf(domain.KindInvalid, "authenticated without a JID")
	}
	if err := d.moveTo(StatusAuthenticated, CausePaired, now); err != nil {
		return err
	}
	d.jid, d.phoneNumber, d.pushName, d.businessName = l.JID, l.PhoneNumber, l.PushName, l.BusinessName
	d.record(Authenticated{header(d.id, now), d.phoneNumber, d.clientName()})
	return nil
}

// Link is what the phone reveals about the account when it accepts a link.
type Link struct {
	JID          string
	PhoneNumber  string
	PushName     string
	BusinessName string
}

// MarkReady records that the session is logged in and connected. pushName updates the
// account's display name when WhatsApp sent one.
func (d *Device) MarkReady(pushName string, now time.Time) error {
	if err := d.moveTo(StatusReady, CauseLoggedIn, now); err != nil {
		return err
	}
	if pushName != "" {
		d.pushName = pushName
	}
	d.lastConnectedAt = stamp(now)
	d.banExpiresAt = time.Time{}
	d.record(Ready{header(d.id, now), d.phoneNumber})
	return nil
}

// UpdateProfile records the account's push name, which WhatsApp may send after the
// login. It is not a change of state, so listeners are not told.
func (d *Device) UpdateProfile(pushName string, now time.Time) error {
	if d.jid == "" {
		return domain.Errorf(domain.KindConflict, "device is not linked (status %s)", d.status)
	}
	if pushName != "" && pushName != d.pushName {
		d.pushName, d.updatedAt = pushName, stamp(now)
	}
	return nil
}

// LoseConnection records a drop that the session is recovering from by itself.
func (d *Device) LoseConnection(reason Reason, now time.Time) error {
	if d.status == StatusConnecting {
		return nil // still reconnecting after an earlier drop: nothing new to tell
	}
	if err := d.moveTo(StatusConnecting, string(reason), now); err != nil {
		return err
	}
	d.lastDisconnectReason = reason
	d.record(Disconnected{header(d.id, now), reason})
	return nil
}

// Stop records that the session ended and will not reconnect by itself.
func (d *Device) Stop(reason Reason, now time.Time) error {
	return d.disconnect(StatusDisconnected, reason, now)
}

// Fail records that WhatsApp refused the session; until is when a temporary ban ends.
func (d *Device) Fail(reason Reason, until, now time.Time) error {
	if err := d.disconnect(StatusFailed, reason, now); err != nil {
		return err
	}
	if !until.IsZero() {
		d.banExpiresAt = stamp(until)
	}
	return nil
}

func (d *Device) disconnect(to Status, reason Reason, now time.Time) error {
	if err := d.moveTo(to, string(reason), now); err != nil {
		return err
	}
	d.lastDisconnectReason = reason
	d.record(Disconnected{header(d.id, now), reason})
	return nil
}

// moveTo is the only place that changes the status: it checks the transition table and
// records the `state` event, with the status it leaves and why (cause).
func (d *Device) moveTo(to Status, cause string, now time.Time) error {
	if !CanTransition(d.status, to) {
		return domain.Errorf(domain.KindConflict, "device cannot go from %s to %s", d.status, to)
	}
	from := d.status
	d.status = to
	d.updatedAt = stamp(now)
	if to != StatusPairing {
		d.qr, d.qrExpiresAt = "", time.Time{}
	}
	d.record(StateChanged{Header: header(d.id, now), Status: to, From: from, Cause: cause})
	return nil
}

func (d *Device) record(e Event) { d.events = append(d.events, e) }

// clientName is how the account presents itself: its business name, else its push name.
func (d *Device) clientName() string {
	if d.businessName != "" {
		return d.businessName
	}
	return d.pushName
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", domain.Errorf(domain.KindInvalid, "name is required")
	case !utf8.ValidString(name):
		return "", domain.Errorf(domain.KindInvalid, "name must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "", domain.Errorf(domain.KindInvalid, "name must be at most %d characters", MaxNameLength)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", domain.Errorf(domain.KindInvalid, "name must not contain control characters")
	}
	return name, nil
}

// stamp is how the device keeps times: in UTC, to the microsecond, as databases store them.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Remove records that the device is being deleted: its listeners are told it is gone
// (disconnected, reason deleted), and then let go, whatever its status was.
func (d *Device) Remove(now time.Time) {
	d.record(Disconnected{header(d.id, now), ReasonDeleted})
}

// Resume prepares a device whose session was running when the gateway stopped to be
// connected again: it moves to connecting (a device already connecting stays so).
func (d *Device) Resume(now time.Time) error {
	switch {
	case d.status == StatusConnecting:
		return nil
	case !d.status.Live():
		return domain.Errorf(domain.KindConflict, "device is not connected (status %s)", d.status)
	}
	return d.moveTo(StatusConnecting, CauseResume, now)
}
