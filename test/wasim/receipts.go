package wasim

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// ReceiptRequest is a contact's phone reporting what it did with messages
// an account sent it: POST /control/receipts. Type is "delivered" (the
// default), "read" or "played". With From equal to To, the account's own
// phone reports that it read (or played) messages of chat Chat, a contact's
// phone number: the account's linked devices get "read-self" or
// "played-self" receipts.
type ReceiptRequest struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	IDs  []string `json:"ids"`
	Type string   `json:"type,omitempty"`
	Chat string   `json:"chat,omitempty"`
}

// Activity is something an account's linked device showed a contact other
// than a message: a read or played receipt, or a chat state. Kind is
// "receipt" (Type read, read-self, played; IDs) or "chatstate" (State
// composing, recording or paused).
type Activity struct {
	Kind       string    `json:"kind"`
	From       string    `json:"from"` // the account's phone number
	FromDevice uint16    `json:"fromDevice"`
	To         string    `json:"to"` // the contact's phone number (or JID when not a known user)
	Type       string    `json:"type,omitempty"`
	IDs        []string  `json:"ids,omitempty"`
	State      string    `json:"state,omitempty"`
	Timestamp  time.Time `json:"timestamp"`
}

// maxActivityPerAccount bounds the activity log of an account.
const maxActivityPerAccount = 10000

var receiptTypes = map[string]string{"": "", "delivered": "", "read": "read", "played": "played"}

// Receipt sends req's receipt to every connected device of account req.To.
// Receipts are not queued for offline devices. It returns how many
// connections got it.
func (s *Server) Receipt(req ReceiptRequest) (int, error) {
	from, err := normalizePhone(req.From)
	if err != nil {
		return 0, err
	}
	to, err := normalizePhone(req.To)
	if err != nil {
		return 0, err
	}
	typ, ok := receiptTypes[req.Type]
	switch {
	case !ok:
		return 0, badRequest("invalid_receipt", "type must be delivered, read or played")
	case len(req.IDs) == 0 || len(req.IDs) > 1000 || slices.Contains(req.IDs, ""):
		return 0, badRequest("invalid_receipt", "ids must hold 1 to 1000 message ids")
	case from == to && typ == "":
		return 0, badRequest("invalid_receipt", "an account's own phone reports reads and plays only")
	}
	attrs := waBinary.Attrs{"id": req.IDs[0], "t": strconv.FormatInt(time.Now().Unix(), 10)}
	if typ != "" {
		attrs["type"] = typ
	}
	s.mu.Lock()
	acct, err := s.accountLocked(to)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if from == to {
		chat, err := normalizePhone(req.Chat)
		if err != nil {
			s.mu.Unlock()
			return 0, badRequest("invalid_receipt", "chat: the contact whose messages the account read")
		}
		attrs["type"] = typ + "-self"
		attrs["from"] = acct.pnJID()
		attrs["recipient"] = types.NewJID(chat, types.DefaultUserServer)
	} else {
		sender := s.userLocked(from)
		attrs["from"], attrs["sender_lid"] = sender.pnJID(), sender.lidJID()
	}
	conns := liveConnsLocked(acct)
	s.mu.Unlock()
	node := waBinary.Node{Tag: "receipt", Attrs: attrs}
	if len(req.IDs) > 1 {
		items := make([]waBinary.Node, 0, len(req.IDs)-1)
		for _, id := range req.IDs[1:] {
			items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"id": id}})
		}
		node.Content = []waBinary.Node{{Tag: "list", Content: items}}
	}
	n := 0
	for _, c := range conns {
		if c.send(node) == nil {
			n++
		}
	}
	return n, nil
}

// Activity returns what the linked devices of account phone showed their
// contacts besides messages, in order.
func (s *Server) Activity(phone string) ([]Activity, error) {
	return accountLog(s, phone, func(u *user) []Activity { return u.activity })
}

// recordActivity logs a read receipt or chat state a device sent to to.
func (s *Server) recordActivity(c *conn, to types.JID, a Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := c.device
	if d == nil {
		return
	}
	a.From, a.FromDevice, a.Timestamp = d.user.phone, d.id, time.Now()
	a.To = to.ToNonAD().String()
	if u := s.userByJIDLocked(to.ToNonAD()); u != nil {
		a.To = u.phone
	}
	if len(d.user.activity) >= maxActivityPerAccount {
		d.user.activity = d.user.activity[1:]
	}
	d.user.activity = append(d.user.activity, a)
}

// handleChatState logs <chatstate to=…><composing [media="audio"]/> or <paused/>.
func (s *Server) handleChatState(c *conn, node *waBinary.Node) {
	to, ok := node.Attrs["to"].(types.JID)
	child := firstChild(node)
	if !ok || (child.Tag != "composing" && child.Tag != "paused") {
		return
	}
	state := child.Tag
	if state == "composing" && child.Attrs["media"] == "audio" {
		state = "recording"
	}
	s.recordActivity(c, to, Activity{Kind: "chatstate", State: state})
}

// receiptIDs are the message ids a receipt names: its id and those of its list.
func receiptIDs(node *waBinary.Node) []string {
	id, _ := node.Attrs["id"].(string)
	ids := []string{id}
	list := node.GetChildByTag("list")
	for _, item := range list.GetChildren() {
		if v, ok := item.Attrs["id"].(string); ok {
			ids = append(ids, v)
		}
	}
	return ids
}

// handlePictureIQ answers a profile picture query: every user has a picture,
// at a URL on the simulator's picture host naming its LID.
func (s *Server) handlePictureIQ(c *conn, node *waBinary.Node) {
	target, _ := node.Attrs["target"].(types.JID)
	s.mu.Lock()
	u := s.userByJIDLocked(target.ToNonAD())
	var lid string
	if u != nil {
		lid = u.lid
	}
	s.mu.Unlock()
	if u == nil {
		_ = c.send(iqError(node, 404, "item-not-found"))
		return
	}
	typ, _ := firstChild(node).Attrs["type"].(string)
	path := "/v/t61/" + lid + "-" + typ + ".jpg"
	_ = c.send(iqResult(node, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{
		"id": lid, "type": typ, "direct_path": path, "url": "https://" + PictureHost + path,
	}}))
}

// PictureHost is the host of the profile picture URLs the simulator gives.
const PictureHost = "pps.whatsapp.net"

func (s *Server) ctlReceipt(w http.ResponseWriter, r *http.Request) {
	var req ReceiptRequest
	if err := readJSON(r, &req, false); err != nil {
		writeError(w, err)
		return
	}
	n, err := s.Receipt(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"connections": n})
}

func (s *Server) ctlActivity(w http.ResponseWriter, r *http.Request) {
	ctlAccountLog(w, r, "activity", s.Activity)
}

// maxRetriesPerDevice bounds the messages kept for a retry per device.
const maxRetriesPerDevice = 1000

// handleRetry answers a retry receipt (whatsmeow's sendRetryReceipt) for a
// message sent undecryptable on purpose: its real copy, kept aside, is
// queued and sent with the same id. Retries of other messages are ignored:
// the simulator's copies decrypt.
func (s *Server) handleRetry(c *conn, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	s.mu.Lock()
	d := c.device
	var real waBinary.Node
	ok := false
	if d != nil {
		real, ok = d.retries[id]
		delete(d.retries, id)
	}
	if ok {
		d.pending = append(d.pending, pendingMessage{id: id, node: real, resent: true})
	}
	s.mu.Unlock()
	if ok {
		s.flush(d)
	}
}

// garbled is a copy of a message node that no client can decrypt.
func garbled(node waBinary.Node) waBinary.Node {
	enc := node.GetChildByTag("enc")
	attrs := waBinary.Attrs{}
	for k, v := range enc.Attrs {
		attrs[k] = v
	}
	attrs["type"] = "msg"
	// A Signal message of version 3 whose body is no protobuf: it never parses.
	garbage := append([]byte{0x33}, bytes.Repeat([]byte{0xff}, 47)...)
	node.Content = []waBinary.Node{{Tag: "enc", Attrs: attrs, Content: garbage}}
	return node
}
