package device

import (
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/message"
)

// SessionEvent is what a WhatsApp session reports about itself. Apply turns it into a
// change of the device.
type SessionEvent interface{ sessionEvent() }

// SessionQR: a QR code to show to the phone.
type SessionQR struct {
	Code      string
	ExpiresAt time.Time
}

// SessionPaired: the phone accepted the link.
type SessionPaired struct{ Link Link }

// SessionConnected: logged in and connected.
type SessionConnected struct{ PushName string }

// SessionProfile: the account's profile changed (WhatsApp sends the push name some time
// after the login).
type SessionProfile struct{ PushName string }

// SessionMessage: a message arrived. Raw is the client's own encoding of it (see Stored).
type SessionMessage struct {
	Message message.Message
	Raw     []byte
}

// SessionReceipt: WhatsApp reported the status of messages (a receipt).
type SessionReceipt struct{ Update message.StatusUpdate }

// SessionUndecryptable: a message arrived that could not be decrypted (its Type is
// message.TypeUndecryptable). It is reported, not kept: when the sender sends it again,
// the real message, with the same id, is kept as any other.
type SessionUndecryptable struct{ Message message.Message }

// SessionDisconnected: the connection ended. With Reconnecting the session is recovering
// by itself; without it, it has stopped (for example when no QR code was scanned).
type SessionDisconnected struct {
	Reason       Reason
	Reconnecting bool
}

// SessionLoggedOut: the link is gone (removed from the phone); its data was deleted.
type SessionLoggedOut struct{ Reason Reason }

// SessionFailed: WhatsApp refused the session; it will not retry by itself. Until is
// when a temporary ban ends (zero otherwise).
type SessionFailed struct {
	Reason Reason
	Until  time.Time
}

func (SessionQR) sessionEvent()            {}
func (SessionPaired) sessionEvent()        {}
func (SessionConnected) sessionEvent()     {}
func (SessionProfile) sessionEvent()       {}
func (SessionMessage) sessionEvent()       {}
func (SessionReceipt) sessionEvent()       {}
func (SessionUndecryptable) sessionEvent() {}
func (SessionDisconnected) sessionEvent()  {}
func (SessionLoggedOut) sessionEvent()     {}
func (SessionFailed) sessionEvent()        {}

// Apply changes the device according to what its session reported. News that does not
// fit the device's state (a late QR code after Disconnect, say) is refused with a
// conflict error and changes nothing. SessionMessage does not change the device and is
// not accepted here: see NewMessageReceived. SessionReceipt and SessionUndecryptable do
// not change the device either: they only record their event.
func (d *Device) Apply(ev SessionEvent, now time.Time) error {
	switch ev := ev.(type) {
	case SessionQR:
		return d.ShowQR(ev.Code, ev.ExpiresAt, now)
	case SessionPaired:
		return d.Authenticate(ev.Link, now)
	case SessionConnected:
		return d.MarkReady(ev.PushName, now)
	case SessionProfile:
		return d.UpdateProfile(ev.PushName, now)
	case SessionDisconnected:
		if ev.Reconnecting {
			return d.LoseConnection(ev.Reason, now)
		}
		return d.Stop(ev.Reason, now)
	case SessionLoggedOut:
		return d.LogOut(ev.Reason, now)
	case SessionFailed:
		return d.Fail(ev.Reason, ev.Until, now)
	case SessionReceipt:
		d.record(Receipt{header(d.id, now), ev.Update})
		return nil
	case SessionUndecryptable:
		d.record(NewMessageReceived(d.id, ev.Message, now))
		return nil
	}
	return domain.Errorf(domain.KindInvalid, "session event %T does not change a device", ev)
}
