package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/uptrace/bun"
	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// Client runs WhatsApp sessions for devices. Create it with New and stop it with Close.
type Client struct {
	cfg       Config
	log       *slog.Logger
	libLevel  slog.Level
	container *sqlstore.Container
	ping      func(context.Context) error // whether the database answers (see patientBuffer)
	msgs      kept
	server    *http.Client // sends whatsmeow to Config.ServerURL; nil for WhatsApp

	mu       sync.Mutex
	sessions map[device.ID]*session
	closed   bool
	running  sync.WaitGroup // the sessions' goroutines

	onWhatsApp onWhatsAppCache
}

var _ device.WhatsAppClient = (*Client)(nil)

// New opens whatsmeow's store on db (upgrading its tables under exclusively, so that
// gateways sharing db upgrade one at a time) and returns a Client with no session
// running. With cfg.ServerURL set, every session talks to that server instead of
// WhatsApp, trusting cfg.RootKey: New logs a loud warning then.
//
// Messages are kept in msgs, for replies, reactions and media downloads; received ones
// are stored by the SessionHandler, which must have stored a message before its
// HandleSession returns: only then is the message acknowledged to WhatsApp.
func New(ctx context.Context, db *bun.DB, exclusively Exclusive, msgs Messages, cfg Config, log *slog.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	signalSlog.Store(log)
	libLevel, err := cfg.libraryLevel()
	if err != nil {
		return nil, err
	}
	server, err := cfg.serverClient()
	if err != nil {
		return nil, err
	}
	if server != nil {
		if err := installRootKey(cfg.RootKey); err != nil {
			return nil, err
		}
		log.Warn("!!! WHATSAPP_SERVER_URL is set: WhatsApp sessions connect to "+cfg.ServerURL+
			" and trust its root key instead of WhatsApp's. This is for testing with a simulator; unset it to use WhatsApp !!!",
			"serverUrl", cfg.ServerURL)
	}
	c := &Client{
		cfg: cfg, log: log, libLevel: libLevel, server: server,
		msgs:     kept{msgs},
		ping:     db.PingContext,
		sessions: make(map[device.ID]*session),
	}
	c.onWhatsApp.entries = make(map[string]time.Time)
	c.container, err = openStore(ctx, db, exclusively, c.libLog("Database"))
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) libLog(module string) waLog.Logger {
	return newLibraryLogger(c.log, c.libLevel, module)
}

// Connect starts the device's session and returns at once: connecting, pairing and
// reconnecting happen in the background and are reported to h. With s.JID it logs in
// with the stored keys of that link; when they are gone (deleted while the gateway was
// down, say) it reports SessionLoggedOut, so that the device shows it must be linked
// again, rather than starting a pairing nobody asked for. Without s.JID it pairs: QR
// codes, or a pairing code through PairPhone.
func (c *Client) Connect(ctx context.Context, s device.Session, h device.SessionHandler) error {
	if c.session(s.DeviceID) != nil {
		return domain.Errorf(domain.KindConflict, "device %s already has a running session", s.DeviceID)
	}
	var dev *store.Device
	if s.JID == "" {
		dev = c.container.NewDevice() // fresh keys, stored once paired
	} else {
		stored, err := loadDevice(ctx, c.container, s.JID)
		if err != nil {
			return fmt.Errorf("load the session keys of %s: %w", s.JID, err)
		}
		if stored == nil {
			c.log.Warn("no session keys are stored for the device's link: it must be linked again", "device", s.DeviceID.String(), "jid", s.JID)
			return c.start(newSession(c, s.DeviceID, s.JID, h, nil), func(ss *session) {
				ss.end(device.SessionLoggedOut{Reason: device.ReasonLoggedOut})
			})
		}
		dev = stored
	}
	cli := meow.NewClient(dev, c.libLog("Client/"+s.DeviceID.String()))
	cli.EnableAutoReconnect = false // the session reconnects by itself, with backoff and jitter
	// A message is acknowledged to WhatsApp only after the handler returned true, that is
	// once it is stored (see session.handOver); until then WhatsApp keeps it and delivers
	// it again at the next login. The buffer keeps what was decrypted until the ack, so
	// that the delivery again can be decrypted (the Signal ratchet has moved on).
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	if c.server != nil {
		cli.SetPreLoginHTTPClient(c.server)
		cli.SetWebsocketHTTPClient(c.server)
		cli.SetMediaHTTPClient(c.server)
	}
	ss := newSession(c, s.DeviceID, s.JID, h, cli)
	ss.bePatient()
	cli.AddEventHandlerWithSuccessStatus(ss.onEvent)
	return c.start(ss, func(ss *session) { ss.supervise() })
}

// start registers the session and runs run (its supervisor).
func (c *Client) start(ss *session, run func(*session)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return domain.Errorf(domain.KindUnavailable, "the WhatsApp client is shutting down")
	}
	if _, ok := c.sessions[ss.id]; ok {
		return domain.Errorf(domain.KindConflict, "device %s already has a running session", ss.id)
	}
	if ss.jid != "" {
		for _, other := range c.sessions {
			if other.link() == ss.jid {
				return domain.Errorf(domain.KindConflict, "another device (%s) runs the session of %s", other.id, ss.jid)
			}
		}
	}
	c.sessions[ss.id] = ss
	c.running.Go(func() {
		if ss.cli == nil {
			defer close(ss.supervised)
		}
		run(ss)
	})
	return nil
}

func (c *Client) session(id device.ID) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

// take removes the device's session from the running ones and returns it, or nil.
func (c *Client) take(id device.ID) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := c.sessions[id]
	delete(c.sessions, id)
	return ss
}

// forget removes a session that ended by itself.
func (c *Client) forget(ss *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[ss.id] == ss {
		delete(c.sessions, ss.id)
	}
}

// Disconnect ends the device's session and keeps its link. It reports nothing: the
// caller has moved the device already. Messages that arrived before are still handed
// over.
func (c *Client) Disconnect(ctx context.Context, id device.ID) error {
	if ss := c.take(id); ss != nil {
		return ss.stop(ctx, false)
	}
	return nil
}

// Logout unlinks the device from the phone when its session is logged in, ends the
// session and deletes the stored keys of the link (also when unlinking failed: a link
// whose keys are gone dies on the phone's side at its next use). It reports nothing.
func (c *Client) Logout(ctx context.Context, s device.Session) error {
	return c.logout(ctx, s, false)
}

// Remove is Logout for a device being deleted (whose messages go with it): messages
// still queued for the handler are not handed over, nor acknowledged.
func (c *Client) Remove(ctx context.Context, s device.Session) error {
	return c.logout(ctx, s, true)
}

func (c *Client) logout(ctx context.Context, s device.Session, discard bool) error {
	jids := []string{s.JID}
	var errs []error
	if ss := c.take(s.DeviceID); ss != nil {
		ss.mu.Lock()
		ss.silent, ss.discard = true, ss.discard || discard
		ss.mu.Unlock()
		if ss.cli != nil && ss.cli.IsLoggedIn() {
			lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			if err := ss.cli.Logout(lctx); err != nil {
				ss.log.Warn("could not unlink from the phone; deleting the session keys anyway", "err", err)
			}
			cancel()
		}
		if err := ss.stop(ctx, discard); err != nil {
			errs = append(errs, fmt.Errorf("stop session: %w", err))
		}
		jids = append(jids, ss.link())
	}
	for i, jid := range jids {
		if jid != "" && (i == 0 || jid != jids[0]) {
			errs = append(errs, deleteDevice(ctx, c.container, jid))
		}
	}
	return errors.Join(errs...)
}

// PairPhone asks WhatsApp for a pairing code to enter on the phone of phoneNumber,
// instead of scanning the QR code. It works while the session shows QR codes (the
// websocket must be up, which the first QR code proves), until the last one expires.
func (c *Client) PairPhone(ctx context.Context, id device.ID, phoneNumber string) (string, error) {
	digits, ok := message.PhoneNumber(phoneNumber)
	if !ok {
		return "", domain.Errorf(domain.KindInvalid, "phoneNumber %q is not an international phone number (country code first, 7 to 15 digits)", phoneNumber)
	}
	ss := c.session(id)
	if ss == nil {
		return "", domain.Errorf(domain.KindConflict, "device %s is not pairing", id)
	}
	if !ss.showingQR() {
		return "", domain.Errorf(domain.KindConflict, "device %s is not pairing: a pairing code can be asked for while it shows QR codes", id)
	}
	code, err := ss.cli.PairPhone(ctx, digits, true, meow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		ss.log.Warn("pairing code request failed", "err", err)
		return "", errors.Join(domain.Errorf(domain.KindUnavailable, "WhatsApp did not give a pairing code"), err)
	}
	return code, nil
}

// Close ends every session without reporting anything, so that the devices keep their
// status (a restart restores them), and waits until what was queued for the handlers has
// been handed over, or ctx ends.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	all := make([]*session, 0, len(c.sessions))
	for _, ss := range c.sessions {
		all = append(all, ss)
	}
	clear(c.sessions)
	c.mu.Unlock()

	var wg sync.WaitGroup
	for _, ss := range all {
		wg.Go(func() { _ = ss.stop(ctx, false) })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		c.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("whatsmeow: close: %w", ctx.Err())
	}
}

// altJID returns the other address of a user (LID for a phone number, or the reverse)
// from whatsmeow's LID map.
func (c *Client) altJID(ctx context.Context, j types.JID) (types.JID, bool) {
	var (
		alt types.JID
		err error
	)
	switch j.Server {
	case types.DefaultUserServer:
		alt, err = c.container.LIDMap.GetLIDForPN(ctx, j)
	case types.HiddenUserServer:
		alt, err = c.container.LIDMap.GetPNForLID(ctx, j)
	default:
		return types.EmptyJID, false
	}
	return alt, err == nil && !alt.IsEmpty()
}

// addresses returns j and, when whatsmeow knows it, the other address of the same user:
// a message kept under a chat's phone number is found by its LID too, and the reverse.
func (c *Client) addresses(ctx context.Context, j types.JID) []types.JID {
	if alt, ok := c.altJID(ctx, j); ok {
		return []types.JID{j, alt}
	}
	return []types.JID{j}
}
