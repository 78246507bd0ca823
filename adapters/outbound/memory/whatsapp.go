package memory

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// WhatsApp is a scripted WhatsApp client. Connect behaves like the real one, reporting a
// QR code for an unlinked device and a connection for a linked one; the test methods
// (Scan, Deliver, Drop...) play the phone and the network. News reaches each device's
// handler from one goroutine per device, in order, as with the real client; the test
// methods return once their news has been handled.
type WhatsApp struct {
	// QRTimeout is how long each QR code is valid.
	QRTimeout time.Duration

	mu       sync.Mutex
	sessions map[device.ID]*session
	links    map[string]device.Link // stored logins, by JID
	connErr  error                  // returned by the next Connect
	removed  map[device.ID]bool
	sent     map[device.ID][]message.Outgoing
	actions  map[device.ID][]string // chat actions, see Actions
	files    map[string][]file      // received media, by device and message id
	closed   bool
}

type session struct {
	id        device.ID
	jid       string
	h         device.SessionHandler
	queue     chan func()
	qr        string
	pairCode  string
	pairPhone string
}

type file struct {
	data   []byte
	meta   message.Media
	chat   string
	sender message.Sender
}

// matches tells whether the file's message is the one ref names, as far as it names it.
func (f file) matches(ref message.MediaRef) bool {
	s := f.sender
	return (ref.Chat == "" || ref.Chat == f.chat) &&
		(ref.Sender == "" || ref.Sender == s.JID || ref.Sender == s.LID || (s.PhoneNumber != "" && ref.Sender == s.PhoneNumber))
}

var _ device.WhatsAppClient = (*WhatsApp)(nil)

func NewWhatsApp() *WhatsApp {
	return &WhatsApp{
		QRTimeout: time.Minute,
		sessions:  make(map[device.ID]*session),
		links:     make(map[string]device.Link),
		removed:   make(map[device.ID]bool),
		sent:      make(map[device.ID][]message.Outgoing),
		actions:   make(map[device.ID][]string),
		files:     make(map[string][]file),
	}
}

// ErrNoSession is returned by the test methods for a device without a running session.
var ErrNoSession = errors.New("memory whatsapp: no session for this device")

func (w *WhatsApp) Connect(_ context.Context, s device.Session, h device.SessionHandler) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.connErr; err != nil {
		w.connErr = nil
		return err
	}
	if w.closed {
		return domain.Errorf(domain.KindUnavailable, "the WhatsApp client is shutting down")
	}
	if _, ok := w.sessions[s.DeviceID]; ok {
		return domain.Errorf(domain.KindConflict, "device %s already has a session", s.DeviceID)
	}
	ss := &session{id: s.DeviceID, h: h, queue: make(chan func(), 64)}
	w.sessions[s.DeviceID] = ss
	go ss.run()
	if link, ok := w.links[s.JID]; ok && s.JID != "" {
		ss.jid = s.JID
		ss.queue <- ss.report(device.SessionConnected{PushName: link.PushName}, nil)
	} else {
		ss.qr = newQR()
		ss.queue <- ss.report(device.SessionQR{Code: ss.qr, ExpiresAt: time.Now().Add(w.QRTimeout)}, nil)
	}
	return nil
}

func (s *session) run() {
	for f := range s.queue {
		f()
	}
}

// report returns a queue item that hands ev to the handler and then closes done.
func (s *session) report(ev device.SessionEvent, done chan struct{}) func() {
	return func() {
		_ = s.h.HandleSession(context.Background(), s.id, ev) // scripted: nothing is delivered again
		if done != nil {
			close(done)
		}
	}
}

// end stops the session's goroutine once its queue is drained. Callers hold w.mu.
func (w *WhatsApp) end(id device.ID) {
	if s, ok := w.sessions[id]; ok {
		close(s.queue)
		delete(w.sessions, id)
	}
}

// Close ends every session without reporting anything, as the real client does when the
// gateway stops, and refuses new ones.
func (w *WhatsApp) Close(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for id := range w.sessions {
		w.end(id)
	}
	return nil
}

func (w *WhatsApp) Disconnect(_ context.Context, id device.ID) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end(id)
	return nil
}

func (w *WhatsApp) Logout(_ context.Context, s device.Session) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end(s.DeviceID)
	delete(w.links, s.JID)
	return nil
}

func (w *WhatsApp) Remove(ctx context.Context, s device.Session) error {
	_ = w.Logout(ctx, s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed[s.DeviceID] = true
	return nil
}

// FailNextConnect makes the next Connect return err.
func (w *WhatsApp) FailNextConnect(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.connErr = err
}

// Connected reports whether the device has a running session.
func (w *WhatsApp) Connected(id device.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.sessions[id]
	return ok
}

// Linked reports whether a login is stored for jid.
func (w *WhatsApp) Linked(jid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.links[jid]
	return ok
}

// Removed reports whether Remove was called for the device.
func (w *WhatsApp) Removed(id device.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.removed[id]
}

// QR returns the QR code the device's session is showing.
func (w *WhatsApp) QR(id device.ID) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[id]
	if !ok || s.qr == "" {
		return "", ErrNoSession
	}
	return s.qr, nil
}

func (w *WhatsApp) PairPhone(_ context.Context, id device.ID, phoneNumber string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[id]
	if !ok || s.qr == "" {
		return "", domain.Errorf(domain.KindConflict, "device %s is not pairing", id)
	}
	code := rand.Text()
	s.pairCode, s.pairPhone = code[:4]+"-"+code[4:8], phoneNumber
	return s.pairCode, nil
}

func (w *WhatsApp) Send(_ context.Context, id device.ID, m message.Outgoing) (message.Receipt, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[id]
	if !ok || s.jid == "" {
		return message.Receipt{}, domain.Errorf(domain.KindConflict, "device %s is not connected", id)
	}
	to := m.To
	if digits, ok := message.PhoneNumber(to); ok {
		to = digits + "@s.whatsapp.net"
	} else if !strings.Contains(to, "@") {
		return message.Receipt{}, domain.Errorf(domain.KindInvalid, "recipient %q is not a phone number or a JID", m.To)
	}
	w.sent[id] = append(w.sent[id], m)
	return message.Receipt{ID: "3EB0" + rand.Text()[:16], To: to, Timestamp: time.Now().UTC()}, nil
}

// Media returns the file of a delivered message, as the real client does: ref must
// name one message (several senders may have used its id).
func (w *WhatsApp) Media(_ context.Context, id device.ID, ref message.MediaRef) (message.MediaFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var found []file
	for _, f := range w.files[string(id)+"/"+ref.MessageID] {
		if f.matches(ref) {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return message.MediaFile{}, domain.Errorf(domain.KindNotFound, "message %s has no media on this device", ref.MessageID)
	case 1:
		f := found[0]
		return message.MediaFile{Content: nopCloser{bytes.NewReader(f.data)}, Size: int64(len(f.data)), Media: f.meta}, nil
	}
	return message.MediaFile{}, domain.Errorf(domain.KindConflict, "%d messages have the id %s: name the chat and the sender", len(found), ref.MessageID)
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// Sent returns the messages sent from the device, in order.
func (w *WhatsApp) Sent(id device.ID) []message.Outgoing {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.sent[id])
}

// Scan plays the phone scanning the device's QR code: the session reports the pairing
// and then the connection, and the login is stored for the next Connect.
func (w *WhatsApp) Scan(id device.ID, phoneNumber, pushName string) (device.Link, error) {
	return w.link(id, phoneNumber, pushName, func(s *session) error {
		if s.qr == "" {
			return fmt.Errorf("memory whatsapp: device %s is not showing a QR code", id)
		}
		return nil
	})
}

// EnterCode plays the phone entering the pairing code that PairPhone returned.
func (w *WhatsApp) EnterCode(id device.ID, code, pushName string) (device.Link, error) {
	var phone string
	w.mu.Lock()
	if s, ok := w.sessions[id]; ok {
		phone = s.pairPhone
	}
	w.mu.Unlock()
	return w.link(id, phone, pushName, func(s *session) error {
		if s.pairCode == "" || s.pairCode != code {
			return fmt.Errorf("memory whatsapp: wrong pairing code for device %s", id)
		}
		return nil
	})
}

func (w *WhatsApp) link(id device.ID, phoneNumber, pushName string, check func(*session) error) (device.Link, error) {
	link := device.Link{JID: phoneNumber + ":1@s.whatsapp.net", PhoneNumber: phoneNumber, PushName: pushName}
	err := w.send(id, false, func(s *session) ([]device.SessionEvent, error) {
		if err := check(s); err != nil {
			return nil, err
		}
		s.qr, s.pairCode, s.jid = "", "", link.JID
		w.links[link.JID] = link
		return []device.SessionEvent{device.SessionPaired{Link: link}, device.SessionConnected{PushName: pushName}}, nil
	})
	return link, err
}

// NextQR plays the session showing a new QR code after the previous one expired.
func (w *WhatsApp) NextQR(id device.ID) (string, error) {
	var code string
	err := w.send(id, false, func(s *session) ([]device.SessionEvent, error) {
		s.qr = newQR()
		code = s.qr
		return []device.SessionEvent{device.SessionQR{Code: code, ExpiresAt: time.Now().Add(w.QRTimeout)}}, nil
	})
	return code, err
}

// SetPushName plays WhatsApp sending the account's push name after the login.
func (w *WhatsApp) SetPushName(id device.ID, name string) error {
	return w.send(id, false, func(*session) ([]device.SessionEvent, error) {
		return []device.SessionEvent{device.SessionProfile{PushName: name}}, nil
	})
}

// Deliver plays a message arriving on the device. data is the content of its media,
// if it has any; Media finds it by the message's id, chat and sender JID.
func (w *WhatsApp) Deliver(id device.ID, m message.Message, data ...byte) error {
	return w.send(id, false, func(*session) ([]device.SessionEvent, error) {
		if m.Media != nil {
			key := string(id) + "/" + m.ID
			f := file{data: data, meta: *m.Media, chat: m.Chat, sender: m.Sender}
			// The same sender delivering the same message again replaces it; another
			// sender reusing its id does not.
			w.files[key] = append(slices.DeleteFunc(w.files[key], func(old file) bool {
				return old.chat == f.chat && old.sender.JID == f.sender.JID
			}), f)
		}
		return []device.SessionEvent{device.SessionMessage{Message: m}}, nil
	})
}

// Drop plays the network dropping the connection. With reconnect, the session recovers
// by itself and reports the connection again; without, it stops with reason.
func (w *WhatsApp) Drop(id device.ID, reason device.Reason, reconnect bool) error {
	return w.send(id, !reconnect, func(*session) ([]device.SessionEvent, error) {
		if reconnect {
			return []device.SessionEvent{device.SessionDisconnected{Reason: reason, Reconnecting: true}, device.SessionConnected{}}, nil
		}
		return []device.SessionEvent{device.SessionDisconnected{Reason: reason}}, nil
	})
}

// Unlink plays the link being removed from the phone: the stored login is deleted and
// the session ends logged out.
func (w *WhatsApp) Unlink(id device.ID) error {
	return w.send(id, true, func(s *session) ([]device.SessionEvent, error) {
		delete(w.links, s.jid)
		return []device.SessionEvent{device.SessionLoggedOut{Reason: device.ReasonLoggedOut}}, nil
	})
}

// Fail plays WhatsApp refusing the session for reason, until a time for a ban.
func (w *WhatsApp) Fail(id device.ID, reason device.Reason, until time.Time) error {
	return w.send(id, true, func(*session) ([]device.SessionEvent, error) {
		return []device.SessionEvent{device.SessionFailed{Reason: reason, Until: until}}, nil
	})
}

// send queues what change reports on the device's session, ends the session after it
// when end is set, and waits until the last report is handled.
func (w *WhatsApp) send(id device.ID, end bool, change func(*session) ([]device.SessionEvent, error)) error {
	w.mu.Lock()
	s, ok := w.sessions[id]
	if !ok {
		w.mu.Unlock()
		return ErrNoSession
	}
	events, err := change(s)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	for i, ev := range events {
		if i == len(events)-1 {
			s.queue <- s.report(ev, done)
		} else {
			s.queue <- s.report(ev, nil)
		}
	}
	if end {
		w.end(id)
	}
	w.mu.Unlock()
	<-done
	return nil
}

func newQR() string {
	return "2@" + rand.Text() + "," + rand.Text()
}
