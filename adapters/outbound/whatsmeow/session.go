package whatsmeow

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/adapters/outbound/whatsmeow/msgconv"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// session runs one device's whatsmeow client. Three parties share it:
//
//   - whatsmeow's event handler (onEvent): it turns events into news for the queue and
//     signals for the supervisor without blocking, except for a received message, which
//     it holds until the message is stored (handOver);
//   - the supervisor goroutine (supervise), which owns the connection: it connects,
//     reconnects after drops with backoff, shows QR codes in turn and ends the session;
//   - the queue, whose goroutine (while there is news) is the only caller of the
//     SessionHandler, in order (hand).
type session struct {
	c      *Client
	id     device.ID
	h      device.SessionHandler
	cli    *meow.Client
	log    *slog.Logger
	q      *queue
	ctx    context.Context // cancelled when the session ends: stops the supervisor
	cancel context.CancelFunc
	// connCtx is the context of whatsmeow's connections (their read loops and event
	// handlers live as long as it does). It is cancelled only after the supervisor has
	// closed the connection: cancelling it first closes the socket under whatsmeow's feet
	// while it is being closed, a data race inside whatsmeow.
	connCtx    context.Context
	connCancel context.CancelFunc

	sigMu   sync.Mutex
	signals []signal
	sigWake chan struct{}

	supervised chan struct{} // closed when the supervisor has returned

	mu        sync.Mutex
	jid       string // the link, "" until paired
	pushName  string
	qrShowing bool // pairing: a QR code is on show
	ended     bool // nothing more is reported (except messages already queued, unless discard)
	silent    bool // stopped on request: state changes still queued are not reported
	discard   bool // stopped for good (Remove): queued messages are not handed over, nor acknowledged
	// sending holds the messages being sent whose `sent` status is not reported yet, by
	// id, with their chat. A receipt can arrive before SendMessage returns: the status
	// that precedes it is reported first (see send).
	sending map[string]types.JID
}

// signal is what the event handler asks of the supervisor.
type signal struct {
	kind  signalKind
	codes []string            // sigQR
	end   device.SessionEvent // sigEnd: the last news of the session
}

type signalKind int

const (
	sigQR        signalKind = iota // a new set of QR codes to show
	sigPaired                      // the phone accepted the link: no more QR codes
	sigConnected                   // logged in: reset the backoff
	sigDropped                     // the connection dropped: reconnect (or end, when not linked)
	sigStale                       // keepalives failed for too long: drop and reconnect
	sigEnd                         // WhatsApp ended the session: report end and stop
	sigLoggedOut                   // the link is gone: delete the store device, report and stop
)

func newSession(c *Client, id device.ID, jid string, h device.SessionHandler, cli *meow.Client) *session {
	ctx, cancel := context.WithCancel(context.Background())
	connCtx, connCancel := context.WithCancel(context.Background())
	s := &session{
		connCtx: connCtx, connCancel: connCancel,
		c: c, id: id, h: h, cli: cli, jid: jid,
		log:     c.log.With("device", id.String()),
		ctx:     ctx,
		cancel:  cancel,
		sigWake: make(chan struct{}, 1),

		supervised: make(chan struct{}),
		sending:    make(map[string]types.JID),
	}
	s.q = newQueue(s.hand, &c.running)
	if cli != nil {
		s.pushName = cli.Store.PushName // loaded with the device, before any goroutine uses it
	}
	return s
}

// onEvent is whatsmeow's event handler: one type switch from whatsmeow's events to the
// session's news and to signals for the supervisor. Its result matters for messages
// only: false keeps whatsmeow from acknowledging the message (SynchronousAck).
func (s *session) onEvent(evt any) bool {
	msg, isMessage := evt.(*events.Message)
	switch {
	case s.isEnded():
		return !isMessage // late news of a connection the session has let go of
	case isMessage:
		return !reportable(msg) || s.handOver(msg)
	}
	switch e := evt.(type) {
	case *events.QR:
		s.signal(signal{kind: sigQR, codes: e.Codes})
	case *events.PairSuccess:
		s.bePatient()
		link := device.Link{JID: e.ID.String(), PhoneNumber: e.ID.User, BusinessName: e.BusinessName}
		s.mu.Lock()
		s.jid, s.qrShowing = link.JID, false
		link.PushName = s.pushName
		s.reportLocked(device.SessionPaired{Link: link})
		s.mu.Unlock()
		s.signal(signal{kind: sigPaired})
	case *events.PairError:
		s.log.Warn("pairing failed", "err", e.Error)
		s.signal(signal{kind: sigEnd, end: device.SessionFailed{Reason: device.ReasonConnectFailure}})
	case *events.Receipt:
		s.receipt(e)
	case *events.UndecryptableMessage:
		s.q.waitRoom(s.ctx.Done())
		s.mu.Lock()
		s.reportLocked(device.SessionUndecryptable{Message: msgconv.Undecryptable(e)})
		s.mu.Unlock()
	case *events.Connected:
		s.c.cfg.Observer.SessionConnected()
		s.mu.Lock()
		s.reportLocked(device.SessionConnected{PushName: s.pushName})
		s.mu.Unlock()
		s.signal(signal{kind: sigConnected})
	case *events.PushNameSetting:
		s.mu.Lock()
		s.pushName = e.Action.GetName()
		s.reportLocked(device.SessionProfile{PushName: s.pushName})
		s.mu.Unlock()
	case *events.Disconnected:
		s.signal(signal{kind: sigDropped})
	case *events.KeepAliveTimeout:
		if time.Since(e.LastSuccess) > meow.KeepAliveMaxFailTime {
			s.signal(signal{kind: sigStale})
		}
	case *events.StreamReplaced:
		// Another client took this account's connection: with leases, never another
		// instance of ours, so it is an alarm. The session ends and does not reconnect (that
		// would take the connection back and forth); its report is refused if the device's
		// lease has moved on meanwhile.
		s.log.Error("WhatsApp replaced this session's connection with another client's: not reconnecting")
		s.signal(signal{kind: sigEnd, end: device.SessionDisconnected{Reason: device.ReasonStreamReplaced}})
	case *events.LoggedOut:
		s.signal(signal{kind: sigLoggedOut})
	case *events.TemporaryBan:
		s.log.Warn("temporarily banned", "code", e.Code, "expire", e.Expire)
		var until time.Time // zero: WhatsApp did not say
		if e.Expire > 0 {
			until = time.Now().Add(e.Expire)
		}
		s.signal(signal{kind: sigEnd, end: device.SessionFailed{Reason: device.ReasonTemporaryBan, Until: until}})
	case *events.ConnectFailure:
		s.log.Warn("WhatsApp refused the connection", "reason", e.Reason, "message", e.Message)
		s.signal(signal{kind: sigEnd, end: device.SessionFailed{Reason: device.ReasonConnectFailure}})
	case *events.ClientOutdated:
		s.log.Error("WhatsApp refuses this client version: update whatsmeow")
		s.signal(signal{kind: sigEnd, end: device.SessionFailed{Reason: device.ReasonClientOutdated}})
	}
	return true
}

// handOver hands a received message to the handler, after the news queued before it,
// and waits until it is stored: whatsmeow acknowledges it to WhatsApp only when this
// returns true. A failure to store is retried, with backoff, for as long as the session
// runs; meanwhile whatsmeow hands over nothing more of this device, and WhatsApp keeps
// what it has not delivered: that is the backpressure, and nothing is dropped. When the
// session ends first, the message is not acknowledged and WhatsApp delivers it again at
// the next login (the handler deduplicates it if it was stored after all).
func (s *session) handOver(m *events.Message) bool {
	began := time.Now()
	for attempt := 0; ; attempt++ {
		done := make(chan error, 1)
		if !s.q.pushMessage(m, done) {
			return false
		}
		select {
		case err := <-done:
			if err == nil {
				s.c.cfg.Observer.MessageReceived(time.Since(began))
				return true
			}
			s.log.Warn("message not stored, so not acknowledged: retrying", "message", m.Info.ID, "attempt", attempt+1, "err", err)
		case <-s.ctx.Done():
			return false
		}
		retry := time.NewTimer(storeRetry(attempt))
		select {
		case <-retry.C:
		case <-s.ctx.Done():
			retry.Stop()
			return false
		}
	}
}

// storeRetry is the delay before storing a message again after attempt+1 failures: from
// 100 ms, doubling, up to 5 s.
func storeRetry(attempt int) time.Duration {
	return min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
}

// reportable tells the messages users see from WhatsApp's housekeeping, which also
// arrives as messages: protocol messages other than revokes and edits (key shares,
// history sync notices...), bare group key distributions, and status updates.
func reportable(e *events.Message) bool {
	m := e.Message
	switch {
	case m == nil, e.Info.Chat == types.StatusBroadcastJID:
		return false
	case m.ProtocolMessage != nil:
		return msgconv.Change(m)
	case m.SenderKeyDistributionMessage != nil:
		var probe message.Message
		msgconv.Content(m, &probe)
		return probe.Type != message.TypeUnknown
	}
	return true
}

// receipt reports a status of messages, after the `sent` status of those the device
// is sending still (their receipt came before SendMessage returned).
func (s *session) receipt(e *events.Receipt) {
	u, ok := msgconv.Status(e)
	if !ok {
		return
	}
	s.q.waitRoom(s.ctx.Done()) // before the lock: the worker takes it too
	s.mu.Lock()
	defer s.mu.Unlock()
	if !u.FromMe {
		for _, id := range u.MessageIDs {
			if to, sending := s.sending[id]; sending {
				delete(s.sending, id)
				s.reportSentLocked(id, to)
			}
		}
	}
	s.reportLocked(device.SessionReceipt{Update: u})
}

// send sends msg to chat to and reports it `sent` once WhatsApp took it, unless a
// receipt for it came first and reported it then (see receipt).
func (s *session) send(ctx context.Context, to types.JID, msg *waE2E.Message) (meow.SendResponse, error) {
	id := s.cli.GenerateMessageID()
	s.mu.Lock()
	s.sending[id] = to
	s.mu.Unlock()
	resp, err := s.cli.SendMessage(ctx, to, msg, meow.SendRequestExtra{ID: id})
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, sending := s.sending[id]; sending && err == nil {
		s.reportSentLocked(id, to)
	}
	delete(s.sending, id)
	return resp, err
}

func (s *session) reportSentLocked(id string, chat types.JID) {
	own, _ := types.ParseJID(s.jid)
	from := msgconv.Sender(own.ToNonAD(), s.cli.Store.GetLID())
	s.reportLocked(device.SessionReceipt{Update: message.StatusUpdate{
		Status: message.StatusSent, MessageIDs: []string{id}, Chat: chat.ToNonAD().String(),
		From: from, FromMe: true, Timestamp: time.Now().UTC(),
	}})
}

func (s *session) signal(sg signal) {
	s.sigMu.Lock()
	s.signals = append(s.signals, sg)
	s.sigMu.Unlock()
	select {
	case s.sigWake <- struct{}{}:
	default:
	}
}

func (s *session) takeSignals() []signal {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	sg := s.signals
	s.signals = nil
	return sg
}

// reportLocked queues a state change unless the session has ended. Callers hold s.mu, so
// that the session's last news stays last.
func (s *session) reportLocked(ev device.SessionEvent) {
	if !s.ended {
		s.observeEnd(ev)
		s.q.pushState(ev)
	}
}

// observeEnd tells the observer of a connection that ended, for the reason reported.
func (s *session) observeEnd(ev device.SessionEvent) {
	switch ev := ev.(type) {
	case device.SessionDisconnected:
		s.c.cfg.Observer.SessionDisconnected(ev.Reason)
	case device.SessionLoggedOut:
		s.c.cfg.Observer.SessionDisconnected(ev.Reason)
	case device.SessionFailed:
		s.c.cfg.Observer.SessionDisconnected(ev.Reason)
	}
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *session) showingQR() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qrShowing
}

func (s *session) link() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jid
}

// supervise owns the connection until the session ends. It connects at once, and again
// after each drop with a capped, jittered exponential backoff (whatsmeow's own
// auto-reconnect is off: its delay grows linearly without cap or jitter).
func (s *session) supervise() {
	defer close(s.supervised)
	serverCloses := false // the session ends with a stream error or failure: WhatsApp closes the socket
	defer func() { s.release(serverCloses) }()
	var (
		attempts  int      // failed connection attempts since the last login
		codes     []string // QR codes still to show
		connect   = time.NewTimer(0)
		nextQR    = stoppedTimer()
		loginWait = stoppedTimer()
	)
	defer connect.Stop()
	defer nextQR.Stop()
	defer loginWait.Stop()
	retry := func() {
		s.c.cfg.Observer.ReconnectAttempt()
		connect.Reset(s.c.cfg.backoff(attempts))
		attempts++
	}
	// dropped handles a lost connection: a linked session reconnects, a pairing one ends
	// (its QR codes died with the connection). WhatsApp may close a pairing connection
	// itself once its last QR code is out: that is a QR timeout too.
	dropped := func() bool {
		lastQR := len(codes) == 0 && s.showingQR()
		nextQR.Stop()
		loginWait.Stop()
		codes = nil
		if s.link() == "" {
			reason := device.ReasonConnectionLost
			if lastQR {
				reason = device.ReasonQRTimeout
			}
			s.end(device.SessionDisconnected{Reason: reason})
			return false
		}
		s.mu.Lock()
		s.reportLocked(device.SessionDisconnected{Reason: device.ReasonConnectionLost, Reconnecting: true})
		s.mu.Unlock()
		retry()
		return true
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-connect.C:
			err := s.cli.ConnectContext(s.connCtx)
			switch {
			case err == nil:
				if s.link() != "" {
					loginWait.Reset(s.c.cfg.loginTimeout())
				}
			case errors.Is(err, meow.ErrAlreadyConnected), s.ctx.Err() != nil:
			case errors.Is(err, store.ErrDeviceDeleted):
				s.loggedOut()
				return
			case strings.Contains(err.Error(), "failed to verify server cert"):
				// Not WhatsApp (or not the server whose root key we were given): no retry helps.
				s.log.Error("the WhatsApp server's certificate does not verify", "err", err)
				s.end(device.SessionFailed{Reason: device.ReasonConnectFailure})
				return
			default:
				s.log.Info("connecting failed; retrying", "err", err, "attempt", attempts+1)
				retry()
			}
		case <-nextQR.C:
			if len(codes) == 0 {
				s.end(device.SessionDisconnected{Reason: device.ReasonQRTimeout})
				return
			}
			s.showQR(codes[0], s.c.cfg.QRNextTimeout)
			codes = codes[1:]
			nextQR.Reset(s.c.cfg.QRNextTimeout)
		case <-loginWait.C:
			// Connected but not logged in for too long: WhatsApp never answered the
			// login, or whatsmeow's own reconnection after pairing failed (it says
			// nothing then). Logged in but no Connected yet: the prekey upload is
			// still going on.
			switch {
			case s.cli.IsLoggedIn():
				loginWait.Reset(s.c.cfg.loginTimeout())
			default:
				s.log.Warn("no login in time: reconnecting")
				if s.cli.IsConnected() {
					s.cli.Disconnect()
				}
				if !dropped() {
					return
				}
			}
		case <-s.sigWake:
			for _, sg := range s.takeSignals() {
				switch sg.kind {
				case sigQR:
					if len(sg.codes) == 0 {
						continue
					}
					s.showQR(sg.codes[0], s.c.cfg.QRFirstTimeout)
					codes = sg.codes[1:]
					nextQR.Reset(s.c.cfg.QRFirstTimeout)
				case sigPaired:
					nextQR.Stop()
					codes = nil
					loginWait.Reset(s.c.cfg.loginTimeout())
				case sigConnected:
					attempts = 0
					loginWait.Stop()
				case sigStale:
					s.log.Warn("keepalives failed for too long: reconnecting")
					s.cli.Disconnect()
					if !dropped() {
						return
					}
				case sigDropped:
					if !dropped() {
						return
					}
				case sigLoggedOut:
					serverCloses = true
					s.loggedOut()
					return
				case sigEnd:
					serverCloses = true
					s.end(sg.end)
					return
				}
			}
		}
	}
}

// release lets go of the connection when the supervisor stops. When WhatsApp ended the
// session it closes the socket itself: the session gives it a moment, because closing
// a socket from both ends at once races inside whatsmeow. Then whatever whatsmeow still
// has in flight (a reconnection after pairing, say) is cancelled.
func (s *session) release(serverCloses bool) {
	if serverCloses {
		deadline := time.Now().Add(serverCloseWait)
		for s.cli.IsConnected() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s.cli.IsConnected() {
		s.cli.Disconnect()
	}
	s.connCancel()
}

// serverCloseWait is how long a session ended by WhatsApp waits for WhatsApp to close
// the socket before closing it itself.
const serverCloseWait = 3 * time.Second

// dialAbortWait is how long stop waits for a connection attempt in progress to finish
// before aborting it.
const dialAbortWait = 2 * time.Second

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (s *session) showQR(code string, valid time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jid != "" {
		return // paired meanwhile
	}
	s.qrShowing = true
	s.reportLocked(device.SessionQR{Code: code, ExpiresAt: time.Now().Add(valid)})
}

// loggedOut ends a session whose link is gone: whatsmeow deletes its store device too,
// but only after it told us, so it is deleted here before the news goes out.
func (s *session) loggedOut() {
	if jid := s.link(); jid != "" {
		if err := deleteDevice(context.WithoutCancel(s.ctx), s.c.container, jid); err != nil {
			s.log.Error("logged out, but the session keys could not be deleted", "err", err)
		}
	}
	s.end(device.SessionLoggedOut{Reason: device.ReasonLoggedOut})
}

// end finishes the session from inside (called by the supervisor, which then releases
// the connection): last is its last news. Connect may start a new session for the
// device from now on.
func (s *session) end(last device.SessionEvent) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.qrShowing = true, false
	// Forgotten before its end is told: whoever hears it may start the device again,
	// which a session still registered would refuse.
	s.c.forget(s)
	s.observeEnd(last)
	s.q.pushState(last)
	s.mu.Unlock()
	s.q.close()
	s.cancel()
}

// stop ends the session on request, reporting nothing: the caller has moved the device
// already. Messages already queued are still handed over unless discard (and are then
// not acknowledged).
func (s *session) stop(ctx context.Context, discard bool) error {
	s.mu.Lock()
	s.ended, s.silent, s.qrShowing = true, true, false
	s.discard = s.discard || discard
	s.mu.Unlock()
	s.cancel()
	s.q.close()
	abort := time.NewTimer(dialAbortWait)
	defer abort.Stop()
	for {
		select {
		case <-s.supervised: // it disconnects the client on its way out
			return nil
		case <-abort.C:
			s.connCancel() // still connecting: abort the dial
		case <-ctx.Done():
			s.connCancel()
			return ctx.Err()
		}
	}
}

// hand hands one piece of queued news to the handler; the queue calls it in order.
func (s *session) hand(it queued) {
	err := s.deliver(context.WithoutCancel(s.ctx), it)
	if it.done != nil {
		it.done <- err
	}
}

// errDiscarded is the result of a message not handed over because its device is being
// deleted.
var errDiscarded = errors.New("the device is being deleted")

func (s *session) deliver(ctx context.Context, it queued) error {
	s.mu.Lock()
	silent, discard := s.silent, s.discard
	s.mu.Unlock()
	switch {
	case it.msg != nil && discard:
		return errDiscarded
	case discard || (silent && it.msg == nil):
		return nil
	case it.msg != nil:
		ev, err := s.receive(ctx, it.msg)
		if err != nil {
			return err
		}
		return s.h.HandleSession(ctx, s.id, ev)
	}
	if err := s.h.HandleSession(ctx, s.id, s.complete(ctx, it.ev)); err != nil {
		s.log.Error("session news not stored", "err", err)
	}
	return nil
}

// receive normalizes a received message, completing its sender with what whatsmeow's
// LID map knows, and encodes it for replies, reactions and media downloads.
func (s *session) receive(ctx context.Context, e *events.Message) (device.SessionMessage, error) {
	m := msgconv.Incoming(e)
	msgconv.FillSender(&m.Sender, e.Info.Sender, func(j types.JID) (types.JID, bool) { return s.c.altJID(ctx, j) })
	raw, err := encode(e.Message)
	if err != nil {
		return device.SessionMessage{}, err
	}
	return device.SessionMessage{Message: m, Raw: raw}, nil
}

// complete fills in the addresses whatsmeow's LID map knows that the news itself did
// not carry.
func (s *session) complete(ctx context.Context, ev device.SessionEvent) device.SessionEvent {
	lookup := func(j types.JID) (types.JID, bool) { return s.c.altJID(ctx, j) }
	fill := func(who *message.Sender) {
		if j, err := types.ParseJID(who.JID); err == nil {
			msgconv.FillSender(who, j, lookup)
		}
	}
	switch e := ev.(type) {
	case device.SessionReceipt:
		fill(&e.Update.From)
		return e
	case device.SessionUndecryptable:
		fill(&e.Message.Sender)
		return e
	}
	return ev
}

// backoff is the delay before connection attempt n+1 after n failures: it doubles from
// ReconnectMin up to ReconnectMax, and a random part of up to half of it is dropped so
// that devices dropped together do not reconnect together.
func (c Config) backoff(failures int) time.Duration {
	d := c.ReconnectMax
	if failures < 30 {
		if e := c.ReconnectMin << failures; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return d - half + rand.N(half+1)
}

// loginTimeout is how long the login after pairing may take before the session treats
// the connection as dropped.
func (c Config) loginTimeout() time.Duration { return time.Minute }
