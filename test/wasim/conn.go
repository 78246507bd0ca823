package wasim

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/keys"
)

const (
	handshakeTimeout = 20 * time.Second
	writeTimeout     = 10 * time.Second
)

// conn is one client websocket connection. The HTTP handler goroutine owns
// reading; any goroutine may send (writes are serialized by writeMu, which
// also keeps the Noise counter in step with the wire order).
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	id     uint64
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	writeMu      sync.Mutex
	writeKey     cipher.AEAD
	writeCounter uint32
	readKey      cipher.AEAD
	readCounter  uint32

	clientStatic [32]byte
	reg          *registration // keys of a client that is not paired yet

	// Guarded by srv.mu.
	refs     []string       // QR refs this connection was given
	linkCode *linkCodeState // pending pairing-code registration
	pairing  bool           // a phone is pairing this connection right now
	paired   bool           // pairing finished; a 515 restart follows
	device   *device        // set once logged in
	ending   bool           // a stream error or failure was sent

	waitMu  sync.Mutex
	waiters map[string]chan *waBinary.Node // our IQs awaiting the client's answer
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// whatsmeow sends Origin: https://web.whatsapp.com.
		InsecureSkipVerify: true,
		// whatsmeow offers permessage-deflate with context takeover, which
		// costs hundreds of KB per connection; declining it is allowed.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return
	}
	ws.SetReadLimit(maxClientFrame + 64)
	ctx, cancel := context.WithCancel(s.baseCtx)
	c := &conn{srv: s, ws: ws, id: s.nextConnID.Add(1), ctx: ctx, cancel: cancel}
	c.log = s.log.With("conn", c.id)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.closeNow()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer s.connClosed(c)
	defer c.closeNow()

	fr := &frameReader{}
	payload, err := c.handshake(fr)
	if err != nil {
		c.log.Debug("handshake failed", "err", err)
		return
	}
	if payload.Username != nil {
		s.login(c, payload)
	} else if err := s.startPairing(c, payload); err != nil {
		c.log.Debug("registration rejected", "err", err)
		return
	}
	c.readLoop(fr)
}

// readFrame reads websocket messages until fr yields one complete frame.
// Only used during the handshake, when the client sends one frame at a time.
func (c *conn) readFrame(ctx context.Context, fr *frameReader) ([]byte, error) {
	for {
		_, msg, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		frames, err := fr.feed(msg)
		if err != nil {
			return nil, err
		}
		if len(frames) > 1 {
			return nil, errors.New("unexpected extra frames during handshake")
		} else if len(frames) == 1 {
			return frames[0], nil
		}
	}
}

// handshake runs the responder side of Noise XX (see handshake.go in
// whatsmeow for the initiator) and returns the client's login or
// registration payload.
func (c *conn) handshake(fr *frameReader) (*waWa6.ClientPayload, error) {
	ctx, cancel := context.WithTimeout(c.ctx, handshakeTimeout)
	defer cancel()
	raw, err := c.readFrame(ctx, fr)
	if err != nil {
		return nil, fmt.Errorf("read client hello: %w", err)
	}
	var hello waWa6.HandshakeMessage
	if err := proto.Unmarshal(raw, &hello); err != nil {
		return nil, fmt.Errorf("parse client hello: %w", err)
	}
	clientEph := hello.GetClientHello().GetEphemeral()
	if len(clientEph) != 32 {
		return nil, errors.New("client hello has no ephemeral key")
	}
	ns, err := newNoiseState(socket.NoiseStartPattern, socket.WAConnHeader)
	if err != nil {
		return nil, err
	}
	ns.authenticate(clientEph)
	eph := keys.NewKeyPair()
	ns.authenticate(eph.Pub[:])
	if err := ns.mixSharedSecret(*eph.Priv, [32]byte(clientEph)); err != nil {
		return nil, err
	}
	staticCT := ns.encrypt(c.srv.static.Pub[:])
	if err := ns.mixSharedSecret(*c.srv.static.Priv, [32]byte(clientEph)); err != nil {
		return nil, err
	}
	certCT := ns.encrypt(c.srv.certChain)
	out, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: eph.Pub[:],
		Static:    staticCT,
		Payload:   certCT,
	}})
	if err != nil {
		return nil, err
	}
	if err := c.writeRaw(ctx, out); err != nil {
		return nil, fmt.Errorf("send server hello: %w", err)
	}

	raw, err = c.readFrame(ctx, fr)
	if err != nil {
		return nil, fmt.Errorf("read client finish: %w", err)
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(raw, &finish); err != nil {
		return nil, fmt.Errorf("parse client finish: %w", err)
	}
	clientStatic, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil || len(clientStatic) != 32 {
		return nil, fmt.Errorf("decrypt client static key: %v", err)
	}
	c.clientStatic = [32]byte(clientStatic)
	if err := ns.mixSharedSecret(*eph.Priv, c.clientStatic); err != nil {
		return nil, err
	}
	payloadBytes, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return nil, fmt.Errorf("decrypt client payload: %w", err)
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(payloadBytes, &payload); err != nil {
		return nil, fmt.Errorf("parse client payload: %w", err)
	}
	if c.writeKey, c.readKey, err = ns.split(); err != nil {
		return nil, err
	}
	return &payload, nil
}

func (c *conn) writeRaw(ctx context.Context, data []byte) error {
	frame, err := encodeFrame(data)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageBinary, frame)
}

// send encrypts and writes one node.
func (c *conn) send(node waBinary.Node) error {
	data, err := waBinary.Marshal(node)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", node.Tag, err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ct := c.writeKey.Seal(nil, gcmIV(c.writeCounter), data, nil)
	c.writeCounter++
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	if err := c.writeRaw(ctx, ct); err != nil {
		c.log.Debug("send failed", "tag", node.Tag, "err", err)
		return err
	}
	return nil
}

func (c *conn) readLoop(fr *frameReader) {
	for {
		_, msg, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		frames, err := fr.feed(msg)
		if err != nil {
			c.log.Debug("bad frame", "err", err)
			return
		}
		for _, frame := range frames {
			plaintext, err := c.readKey.Open(frame[:0], gcmIV(c.readCounter), frame, nil)
			c.readCounter++
			if err != nil {
				c.log.Debug("cannot decrypt frame", "err", err)
				return
			}
			data, err := waBinary.Unpack(plaintext)
			if err != nil {
				c.log.Debug("cannot unpack frame", "err", err)
				continue
			}
			node, err := waBinary.Unmarshal(data)
			if err != nil {
				c.log.Debug("cannot decode node", "err", err)
				continue
			}
			c.srv.handleNode(c, node)
		}
	}
}

// closeNow drops the connection without a close handshake, which is what a
// network failure looks like to the client.
func (c *conn) closeNow() {
	c.cancel()
	_ = c.ws.CloseNow()
}

// endWith sends a final stanza (stream error or login failure) and closes
// the connection after the grace period, unless the client closes first.
// The caller must not hold srv.mu.
func (c *conn) endWith(node waBinary.Node) {
	c.srv.mu.Lock()
	already := c.ending
	c.ending = true
	c.srv.mu.Unlock()
	if already {
		return
	}
	_ = c.send(node)
	t := time.AfterFunc(c.srv.opts.StreamErrorGrace, c.closeNow)
	context.AfterFunc(c.ctx, func() { t.Stop() })
}

// request sends an IQ to the client and waits for its result or error.
func (c *conn) request(ctx context.Context, node waBinary.Node) (*waBinary.Node, error) {
	id, _ := node.Attrs["id"].(string)
	ch := make(chan *waBinary.Node, 1)
	c.waitMu.Lock()
	if c.waiters == nil {
		c.waiters = map[string]chan *waBinary.Node{}
	}
	c.waiters[id] = ch
	c.waitMu.Unlock()
	defer func() {
		c.waitMu.Lock()
		delete(c.waiters, id)
		c.waitMu.Unlock()
	}()
	if err := c.send(node); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, errConnClosed
	}
}

var errConnClosed = errors.New("connection closed")

// deliverResponse hands a client's IQ result/error to a waiting request.
func (c *conn) deliverResponse(node *waBinary.Node) bool {
	id, _ := node.Attrs["id"].(string)
	c.waitMu.Lock()
	ch, ok := c.waiters[id]
	c.waitMu.Unlock()
	if ok {
		select {
		case ch <- node:
		default:
		}
	}
	return ok
}

// connClosed forgets a connection and fixes the counters.
func (s *Server) connClosed(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	for _, ref := range c.refs {
		if s.refs[ref] == c {
			delete(s.refs, ref)
		}
	}
	if lc := c.linkCode; lc != nil && s.linkCodes[lc.phone] == c {
		delete(s.linkCodes, lc.phone)
	}
	if d := c.device; d != nil {
		s.loggedIn--
		d.logins--
		for i, dc := range d.conns {
			if dc == c {
				d.conns = append(d.conns[:i], d.conns[i+1:]...)
				break
			}
		}
		if d.active == c {
			d.active = nil
		}
	}
}
