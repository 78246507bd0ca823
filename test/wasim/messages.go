package wasim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// TextMessage is a contact sending a text to an account.
type TextMessage struct {
	// From is the contact's phone number. Any number works; it does not
	// have to be known to the simulator.
	From string `json:"from"`
	// To is the account's phone number; it must have a linked device.
	To   string `json:"to"`
	Text string `json:"text"`
	// PushName is the contact's display name (events.Message Info.PushName).
	PushName string `json:"pushName,omitempty"`
}

// SentText is the result of SendText.
type SentText struct {
	ID string `json:"id"`
	// Devices is the number of linked devices the message was encrypted for.
	Devices int `json:"devices"`
}

// pendingMessage is an encrypted message kept for one device until the
// device acknowledges it (a delivery receipt or an ack, see acked), as
// WhatsApp keeps it: one that was sent but not acknowledged when its
// connection ended goes out again, unchanged (same id and ciphertext), at
// the next login.
type pendingMessage struct {
	id   string
	node waBinary.Node
	// sentOn is the id of the connection the message was last written to
	// (0: none yet), so that flush sends each message once per connection.
	sentOn uint64
	// resent marks the real copy of a message sent undecryptable (see
	// handleRetry): the client's ack of the undecryptable copy may come
	// after it was queued, and must not release it.
	resent bool
}

func removePending(pending []pendingMessage, ids ...string) []pendingMessage {
	return slices.DeleteFunc(pending, func(p pendingMessage) bool { return slices.Contains(ids, p.id) })
}

// newMessageID looks like the ids WhatsApp clients generate.
func newMessageID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

const maxTextBytes = 64 << 10

// Media returns the file attached to message id, sent by a linked device,
// as the simulator decrypted it. Files are kept while the media store has
// room (see maxStoredMediaBytes).
func (s *Server) Media(id string) (MediaFile, error) {
	f, ok := s.media.file(id)
	if !ok {
		return MediaFile{}, notFound("unknown_media", "no decrypted attachment for message %q", id)
	}
	f.Data = slices.Clone(f.Data) // the stored copy stays intact
	return f, nil
}

// SendText has contact req.From send req.Text to every linked device of
// account req.To. Each device gets its own Signal-encrypted copy
// (<message from=PN sender_lid=LID><enc type="pkmsg"|"msg">); devices that
// are offline get it when they next connect. The client sees
// events.Message with Info.Sender = From's phone JID. SendMessage sends
// other content.
func (s *Server) SendText(ctx context.Context, req TextMessage) (SentText, error) {
	return s.SendMessage(ctx, IncomingMessage{From: req.From, To: req.To, Type: "text", Text: req.Text, PushName: req.PushName})
}

// deliver encrypts msg from contact from for every linked device of
// account to and sends it to those online; all of them keep it pending
// until they acknowledge it.
//
// With undecryptable, each device first gets a copy it cannot decrypt, and
// the real one when it asks for it with a retry receipt.
func (s *Server) deliver(ctx context.Context, from, to, pushName string, msg *waE2E.Message, undecryptable bool) (SentText, error) {
	body, err := proto.Marshal(msg)
	if err != nil {
		return SentText{}, internalError(err)
	}
	msgType, mediaType := stanzaTypes(msg)
	id := newMessageID()
	now := time.Now()

	var online []*device
	var lowKeys []*conn

	s.mu.Lock()
	acct, err := s.accountLocked(to)
	if err != nil {
		s.mu.Unlock()
		return SentText{}, err
	}
	if len(acct.devices) == 0 {
		s.mu.Unlock()
		return SentText{}, conflict("no_devices", "%s has no linked device", to)
	}
	sender := s.userLocked(from)
	if pushName != "" {
		sender.pushName = pushName
	}
	ids := make([]uint16, 0, len(acct.devices))
	for id := range acct.devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	attrs := waBinary.Attrs{
		"from":       sender.pnJID(),
		"sender_lid": sender.lidJID(),
		"id":         id,
		"t":          strconv.FormatInt(now.Unix(), 10),
		"type":       msgType,
	}
	if sender.pushName != "" {
		attrs["notify"] = sender.pushName
	}
	for _, devID := range ids {
		d := acct.devices[devID]
		// The contact's sessions are keyed by the device's LID address,
		// the identity whatsmeow encrypts its replies with.
		addr := protocol.NewSignalAddress(acct.lid, uint32(d.id))
		countBefore := d.preKeyCount
		ct, encType, err := sender.phone0.encryptMessage(ctx, addr, func() *prekey.Bundle { return deviceBundle(d) }, padMessage(slices.Clone(body)))
		if err != nil {
			s.mu.Unlock()
			return SentText{}, internalError(err)
		}
		encAttrs := waBinary.Attrs{"v": "2", "type": encType}
		if mediaType != "" {
			encAttrs["mediatype"] = mediaType
		}
		node := waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{
			{Tag: "enc", Attrs: encAttrs, Content: ct},
		}}
		if len(d.pending) >= maxPendingPerDevice {
			d.pending = d.pending[1:]
		}
		if undecryptable {
			if d.retries == nil || len(d.retries) >= maxRetriesPerDevice {
				d.retries = map[string]waBinary.Node{}
			}
			d.retries[id] = node
			node = garbled(node)
		}
		d.pending = append(d.pending, pendingMessage{id: id, node: node})
		if d.active != nil {
			online = append(online, d)
			if countBefore >= lowPreKeyCount && d.preKeyCount < lowPreKeyCount {
				lowKeys = append(lowKeys, d.active)
			}
		}
	}
	s.mu.Unlock()

	for _, d := range online {
		s.flush(d)
	}
	for _, c := range lowKeys {
		s.notifyPreKeyCount(c)
	}
	return SentText{ID: id, Devices: len(ids)}, nil
}

// flush writes d's pending messages that its active connection has not
// been sent yet, oldest first. Only one goroutine flushes a device at a
// time, and it loops until nothing is left, so messages reach the client in
// the order they were queued even when a login's replay and new deliveries
// overlap; the others return at once. No lock is held while writing.
func (s *Server) flush(d *device) {
	s.mu.Lock()
	if d.flushing {
		s.mu.Unlock()
		return
	}
	d.flushing = true
	for {
		c := d.active
		var batch []waBinary.Node
		if c != nil {
			for i := range d.pending {
				if p := &d.pending[i]; p.sentOn != c.id {
					p.sentOn = c.id
					batch = append(batch, p.node)
				}
			}
		}
		if len(batch) == 0 {
			d.flushing = false
			s.mu.Unlock()
			return
		}
		hook := s.beforeFlushWrite
		s.mu.Unlock()
		if hook != nil {
			hook()
		}
		// A failed write means the connection is gone: what it was not
		// given stays pending for the next login.
		for _, n := range batch {
			if c.send(n) != nil {
				break
			}
		}
		s.mu.Lock()
	}
}

// acked removes the messages ids from the pending list of the device
// connection c is logged in as: the device has them.
func (s *Server) acked(c *conn, ids ...string) {
	s.mu.Lock()
	if d := c.device; d != nil {
		d.pending = removePending(d.pending, ids...)
	}
	s.mu.Unlock()
}

// lowPreKeyCount is whatsmeow's MinPreKeyCount: below it the client uploads
// a new batch when told.
const lowPreKeyCount = 5

func (s *Server) notifyPreKeyCount(c *conn) {
	s.mu.Lock()
	count := 0
	if c.device != nil {
		count = c.device.preKeyCount
	}
	s.mu.Unlock()
	_ = c.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "type": "encrypt", "id": s.newStanzaID(),
		"t": strconv.FormatInt(time.Now().Unix(), 10),
	}, Content: []waBinary.Node{{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(count)}}}})
}

// handleOutgoingMessage receives a message a linked device sends. The
// recipient's phone decrypts its copy and the result is logged for Sent;
// copies for other devices (the sender's own phone and companions) are
// dropped. The ack is what makes whatsmeow's SendMessage return.
func (s *Server) handleOutgoingMessage(c *conn, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	to, _ := node.Attrs["to"].(types.JID)
	now := time.Now()

	s.mu.Lock()
	d := c.device
	var recipient *user
	if d != nil && !to.IsEmpty() {
		recipient = s.userByJIDLocked(to.ToNonAD())
	}
	s.mu.Unlock()
	if d == nil {
		_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "message", "id": id, "error": "401"}})
		return
	}

	decrypted := false
	if recipient != nil && recipient != d.user {
		rec := SentMessage{ID: id, From: d.user.phone, FromDevice: d.id, To: recipient.phone, Type: "unknown", Timestamp: now}
		if enc, ok := findEnc(node, recipient); !ok {
			rec.Error = "no copy encrypted for the recipient's phone"
		} else {
			addr := protocol.NewSignalAddress(d.user.lid, uint32(d.id))
			encType, _ := enc.Attrs["type"].(string)
			content, _ := enc.Content.([]byte)
			msg, err := recipient.phone0.decryptMessage(context.Background(), addr, encType, content)
			if err != nil {
				rec.Error = err.Error()
				c.log.Warn("recipient cannot decrypt message", "id", id, "to", recipient.phone, "err", err)
			} else {
				decrypted = true
				s.recordContent(&rec, msg)
			}
		}
		s.mu.Lock()
		if len(d.user.sent) >= maxSentPerAccount {
			d.user.sent = d.user.sent[1:]
		}
		d.user.sent = append(d.user.sent, rec)
		s.mu.Unlock()
	}
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{
		"class": "message", "id": id, "from": to, "t": strconv.FormatInt(now.Unix(), 10),
	}})
	if decrypted {
		// The recipient's phone confirms delivery (events.Receipt).
		_ = c.send(waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
			"from": to, "id": id, "t": strconv.FormatInt(time.Now().Unix(), 10),
		}})
	}
}

// recordContent fills rec from the decrypted message and, for an
// attachment, fetches and decrypts the file as the recipient would, before
// the ack: a client's SendMessage returns only once the file can be checked.
func (s *Server) recordContent(rec *SentMessage, msg *waE2E.Message) {
	att, kind := describeMessage(rec, msg)
	if att == nil {
		return
	}
	data, err := s.openAttachment(att, kind)
	if err != nil {
		rec.MediaError = err.Error()
	}
	if data != nil {
		sum := sha256.Sum256(data)
		rec.SHA256 = hex.EncodeToString(sum[:])
		s.media.putFile(rec.ID, MediaFile{Data: data, Mimetype: rec.Mimetype, FileName: rec.FileName})
	}
}

// findEnc returns the <enc> addressed to the recipient's phone (device 0).
func findEnc(node *waBinary.Node, recipient *user) (waBinary.Node, bool) {
	for _, child := range node.GetChildren() {
		switch child.Tag {
		case "enc":
			return child, true
		case "participants":
			for _, to := range child.GetChildren() {
				jid, ok := to.Attrs["jid"].(types.JID)
				if to.Tag != "to" || !ok || jid.Device != 0 || (jid.User != recipient.lid && jid.User != recipient.phone) {
					continue
				}
				if enc, ok := to.GetOptionalChildByTag("enc"); ok {
					return enc, true
				}
			}
		}
	}
	return waBinary.Node{}, false
}

// decryptMessage decrypts, unpads and parses a device's message.
func (p *party) decryptMessage(ctx context.Context, addr *protocol.SignalAddress, encType string, content []byte) (*waE2E.Message, error) {
	plaintext, err := p.decrypt(ctx, addr, encType, content)
	if err != nil {
		return nil, err
	}
	if plaintext, err = unpadMessage(plaintext); err != nil {
		return nil, err
	}
	var msg waE2E.Message
	if err := proto.Unmarshal(plaintext, &msg); err != nil {
		return nil, err
	}
	return &msg, nil
}

// Sent returns what the linked devices of account phone sent, in order, as
// the recipients decrypted it.
func (s *Server) Sent(phone string) ([]SentMessage, error) {
	return accountLog(s, phone, func(u *user) []SentMessage { return u.sent })
}

// accountLog returns a copy of one of account phone's logs.
func accountLog[T any](s *Server, phone string, log func(*user) []T) ([]T, error) {
	phone, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.accountLocked(phone)
	if err != nil {
		return nil, err
	}
	return slices.Clone(log(u)), nil
}
