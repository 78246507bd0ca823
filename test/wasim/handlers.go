package wasim

import (
	"encoding/binary"
	"strconv"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleNode dispatches one stanza from a client. It runs on the
// connection's read goroutine, so handlers that wait for something (a phone
// pairing the device) must not block it.
func (s *Server) handleNode(c *conn, node *waBinary.Node) {
	switch node.Tag {
	case "iq":
		s.handleIQ(c, node)
	case "message":
		s.handleOutgoingMessage(c, node)
	case "receipt":
		s.handleReceipt(c, node)
	case "ack":
		s.handleAck(c, node)
	case "chatstate":
		s.handleChatState(c, node)
	case "ib", "presence", "notification", "call":
		// Telemetry and presence: nothing to do.
	default:
		c.log.Debug("ignoring stanza", "tag", node.Tag)
	}
}

func (s *Server) handleIQ(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	switch ag.OptionalString("type") {
	case "result", "error":
		c.deliverResponse(node)
		return
	}
	xmlns := ag.OptionalString("xmlns")
	child := firstChild(node)
	switch {
	case xmlns == "encrypt" && child.Tag == "count":
		s.handlePreKeyCount(c, node)
	case xmlns == "encrypt" && child.Tag == "registration" || xmlns == "encrypt" && child.Tag == "list":
		s.handlePreKeyUpload(c, node)
	case xmlns == "encrypt" && child.Tag == "key":
		s.handlePreKeyFetch(c, node)
	case xmlns == "usync":
		s.handleUsync(c, node)
	case xmlns == "passive":
		s.handlePassive(c, node, child.Tag == "active")
	case xmlns == "md" && child.Tag == "link_code_companion_reg":
		s.handleLinkCodeIQ(c, node, child)
	case xmlns == "md" && child.Tag == "remove-companion-device":
		s.handleLogout(c, node)
	case xmlns == "w:m" && child.Tag == "media_conn":
		s.handleMediaConn(c, node)
	case xmlns == "w:profile:picture" && child.Tag == "picture":
		s.handlePictureIQ(c, node)
	default:
		// Anything the simulator does not model (keepalive pings, privacy
		// settings, app state, ...) gets an empty result, so that new
		// client requests do not hang until their 75-second timeout.
		_ = c.send(iqResult(node))
	}
}

func firstChild(node *waBinary.Node) waBinary.Node {
	if children := node.GetChildren(); len(children) > 0 {
		return children[0]
	}
	return waBinary.Node{}
}

// iqResult is an empty successful answer to a client IQ, with children.
func iqResult(req *waBinary.Node, content ...waBinary.Node) waBinary.Node {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id":   req.Attrs["id"],
		"type": "result",
		"from": types.ServerJID,
	}}
	if len(content) > 0 {
		n.Content = content
	}
	return n
}

func iqError(req *waBinary.Node, code int, text string) waBinary.Node {
	return waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id":   req.Attrs["id"],
		"type": "error",
		"from": types.ServerJID,
	}, Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": strconv.Itoa(code), "text": text}}}}
}

func (s *Server) handlePreKeyCount(c *conn, node *waBinary.Node) {
	count := 0
	s.mu.Lock()
	if d := c.device; d != nil {
		count = d.preKeyCount
	}
	s.mu.Unlock()
	_ = c.send(iqResult(node, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(count)}}))
}

// handlePreKeyUpload stores the uploaded identity, signed prekey and the
// first few one-time prekeys (see maxStoredPreKeys).
func (s *Server) handlePreKeyUpload(c *conn, node *waBinary.Node) {
	var (
		regID    uint32
		identity []byte
		spk      *signedPreKey
		pks      []preKeyPub
		total    int
	)
	for _, child := range node.GetChildren() {
		switch child.Tag {
		case "registration":
			if b, ok := child.Content.([]byte); ok && len(b) == 4 {
				regID = binary.BigEndian.Uint32(b)
			}
		case "identity":
			identity, _ = child.Content.([]byte)
		case "list":
			for _, k := range child.GetChildren() {
				total++
				if len(pks) >= maxStoredPreKeys {
					continue
				}
				if pk, ok := parsePreKeyNode(k); ok {
					pks = append(pks, pk)
				}
			}
		case "skey":
			if pk, ok := parsePreKeyNode(child); ok {
				if sig, ok := child.GetChildByTag("signature").Content.([]byte); ok && len(sig) == 64 {
					spk = &signedPreKey{preKeyPub: pk, sig: [64]byte(sig)}
				}
			}
		}
	}
	s.mu.Lock()
	d := c.device
	if d == nil {
		s.mu.Unlock()
		_ = c.send(iqError(node, 401, "not-authorized"))
		return
	}
	if regID != 0 {
		d.registrationID = regID
	}
	if len(identity) == 32 {
		d.identityPub = [32]byte(identity)
	}
	if spk != nil {
		d.signedPreKey = *spk
	}
	d.preKeys = append(d.preKeys, pks...)
	if len(d.preKeys) > maxStoredPreKeys {
		d.preKeys = d.preKeys[len(d.preKeys)-maxStoredPreKeys:]
	}
	d.preKeyCount += total
	s.mu.Unlock()
	_ = c.send(iqResult(node))
}

func parsePreKeyNode(n waBinary.Node) (preKeyPub, bool) {
	id, ok1 := n.GetChildByTag("id").Content.([]byte)
	val, ok2 := n.GetChildByTag("value").Content.([]byte)
	if !ok1 || !ok2 || len(id) != 3 || len(val) != 32 {
		return preKeyPub{}, false
	}
	return preKeyPub{id: uint32(id[0])<<16 | uint32(id[1])<<8 | uint32(id[2]), pub: [32]byte(val)}, true
}

// handlePreKeyFetch answers <key><user jid=.../></key> with a bundle per
// device: a user's phone (device 0) or one of an account's linked devices.
func (s *Server) handlePreKeyFetch(c *conn, node *waBinary.Node) {
	var users []waBinary.Node
	s.mu.Lock()
	keyNode := node.GetChildByTag("key")
	for _, req := range keyNode.GetChildren() {
		jid, ok := req.Attrs["jid"].(types.JID)
		if req.Tag != "user" || !ok {
			continue
		}
		u := s.userByJIDLocked(jid.ToNonAD())
		switch {
		case u == nil:
			users = append(users, errorUserNode(jid, 404, "item-not-found"))
		case jid.Device == 0:
			users = append(users, u.phone0.bundleNode(jid))
		default:
			d := u.devices[jid.Device]
			if d == nil {
				users = append(users, errorUserNode(jid, 404, "item-not-found"))
				continue
			}
			var pk *preKeyPub
			if len(d.preKeys) > 0 {
				pk = &d.preKeys[0]
				d.preKeys = d.preKeys[1:]
			}
			users = append(users, bundleUserNode(jid, d.registrationID, d.identityPub, pk, d.signedPreKey))
		}
	}
	s.mu.Unlock()
	_ = c.send(iqResult(node, waBinary.Node{Tag: "list", Content: users}))
}

func errorUserNode(jid types.JID, code int, text string) waBinary.Node {
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
		{Tag: "error", Attrs: waBinary.Attrs{"code": strconv.Itoa(code), "text": text}},
	}}
}

// handlePassive answers the <passive><active/></passive> whatsmeow sends
// right before it emits events.Connected. From then on the device gets its
// messages: first those pending (queued while it was offline, or sent to an
// earlier connection that did not acknowledge them), in their original
// order, then an <ib><offline> marker (events.OfflineSyncCompleted).
func (s *Server) handlePassive(c *conn, node *waBinary.Node, active bool) {
	_ = c.send(iqResult(node))
	if !active {
		return
	}
	s.mu.Lock()
	d := c.device
	if d == nil || c.ending {
		s.mu.Unlock()
		return
	}
	d.active = c
	count := len(d.pending)
	s.mu.Unlock()
	s.flush(d)
	_ = c.send(waBinary.Node{Tag: "ib", Attrs: waBinary.Attrs{"from": types.ServerJID}, Content: []waBinary.Node{
		{Tag: "offline", Attrs: waBinary.Attrs{"count": strconv.Itoa(count)}},
	}})
}

// handleLogout is whatsmeow's Client.Logout: the device unlinks itself.
func (s *Server) handleLogout(c *conn, node *waBinary.Node) {
	s.mu.Lock()
	d := c.device
	if d != nil && d.user.devices[d.id] == d {
		delete(d.user.devices, d.id)
		s.pairedDevices--
	}
	s.mu.Unlock()
	_ = c.send(iqResult(node))
}

// handleReceipt takes a delivery (or read, played...) receipt for messages
// the device got as their acknowledgement, which is how whatsmeow confirms
// a message it decrypted and handled. A retry receipt is not one: it asks
// the sender to encrypt the message again, and whatsmeow acks the message
// separately. whatsmeow does not wait for receipts to be acked.
//
// Read and played receipts addressed to a chat (MarkRead) are also what the
// contact sees: they are logged for Activity.
func (s *Server) handleReceipt(c *conn, node *waBinary.Node) {
	typ, _ := node.Attrs["type"].(string)
	if typ == "retry" {
		s.handleRetry(c, node)
		return
	}
	ids := receiptIDs(node)
	s.acked(c, ids...)
	if to, ok := node.Attrs["to"].(types.JID); ok && (typ == "read" || typ == "read-self" || typ == "played") {
		s.recordActivity(c, to, Activity{Kind: "receipt", Type: typ, IDs: ids})
	}
}

// handleAck takes an <ack class="message"> as the acknowledgement of that
// message: whatsmeow sends one instead of a receipt for a message it could
// not decrypt or parse (with an error code or not), and WhatsApp then
// stops offering it. Acks of other stanzas need nothing.
func (s *Server) handleAck(c *conn, node *waBinary.Node) {
	if node.Attrs["class"] != "message" {
		return
	}
	id, _ := node.Attrs["id"].(string)
	s.mu.Lock()
	if d := c.device; d != nil {
		for i := range d.pending {
			if p := &d.pending[i]; p.id == id && p.resent {
				p.resent = false // the ack of the undecryptable copy
				s.mu.Unlock()
				return
			}
		}
	}
	s.mu.Unlock()
	s.acked(c, id)
}
