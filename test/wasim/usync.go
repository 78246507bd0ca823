package wasim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleUsync answers user queries (whatsmeow's usync in user.go): device
// lists for SendMessage, LIDs for GetUserInfo, "is on WhatsApp" for
// IsOnWhatsApp. Every phone number is on WhatsApp. Other users are listed
// with their phone only (device 0); the querying account is listed with its
// phone and linked devices, as whatsmeow expects for own-device fan-out.
func (s *Server) handleUsync(c *conn, node *waBinary.Node) {
	usync := node.GetChildByTag("usync")
	var protocols []waBinary.Node
	query := usync.GetChildByTag("query")
	protocols = append(protocols, query.GetChildren()...)
	var results []waBinary.Node
	s.mu.Lock()
	list := usync.GetChildByTag("list")
	for _, req := range list.GetChildren() {
		if req.Tag != "user" {
			continue
		}
		results = append(results, s.usyncUserLocked(req, protocols))
	}
	s.mu.Unlock()
	_ = c.send(iqResult(node, waBinary.Node{Tag: "usync", Attrs: usync.Attrs, Content: []waBinary.Node{
		{Tag: "result", Content: resultNodes(protocols)},
		{Tag: "list", Content: results},
	}}))
}

func resultNodes(protocols []waBinary.Node) []waBinary.Node {
	out := make([]waBinary.Node, 0, len(protocols))
	for _, p := range protocols {
		out = append(out, waBinary.Node{Tag: p.Tag})
	}
	return out
}

func (s *Server) usyncUserLocked(req waBinary.Node, protocols []waBinary.Node) waBinary.Node {
	jid, hasJID := req.Attrs["jid"].(types.JID)
	var contactQuery []byte
	if contact, ok := req.GetOptionalChildByTag("contact"); ok {
		contactQuery, _ = contact.Content.([]byte)
		if !hasJID {
			phone := strings.TrimPrefix(strings.TrimSuffix(string(contactQuery), "@"+types.LegacyUserServer), "+")
			jid = types.NewJID(phone, types.DefaultUserServer)
		}
	}
	jid = jid.ToNonAD()
	u := s.userByJIDLocked(jid)
	if u == nil {
		return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
			{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "not-found"}},
		}}
	}
	attrs := waBinary.Attrs{"jid": jid}
	var children []waBinary.Node
	for _, p := range protocols {
		switch p.Tag {
		case "devices":
			children = append(children, devicesNode(u))
		case "lid":
			children = append(children, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": u.lidJID()}})
		case "contact":
			if p.AttrGetter().OptionalString("addressing_mode") == "lid" {
				attrs["jid"] = u.lidJID()
				attrs["pn_jid"] = u.pnJID()
			} else {
				attrs["jid"] = u.pnJID()
			}
			children = append(children, waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": "in"}, Content: contactQuery})
		case "status":
			children = append(children, waBinary.Node{Tag: "status", Attrs: waBinary.Attrs{"t": "0"}})
		default:
			// business, picture, disappearing_mode, username, ...: present
			// and empty, i.e. nothing set.
			children = append(children, waBinary.Node{Tag: p.Tag})
		}
	}
	return waBinary.Node{Tag: "user", Attrs: attrs, Content: children}
}

// devicesNode lists device 0 (the phone) and the user's linked devices.
// Listing linked devices for other users too is harmless: the copies
// encrypted for them are dropped, like those for the sender's own devices.
func devicesNode(u *user) waBinary.Node {
	ids := make([]uint16, 0, len(u.devices))
	for id := range u.devices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	list := []waBinary.Node{{Tag: "device", Attrs: waBinary.Attrs{"id": "0"}}}
	for _, id := range ids {
		list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{
			"id":        strconv.Itoa(int(id)),
			"key-index": strconv.Itoa(int(u.devices[id].keyIndex)),
		}})
	}
	return waBinary.Node{Tag: "devices", Content: []waBinary.Node{
		{Tag: "device-list", Content: list},
		{Tag: "key-index-list", Attrs: waBinary.Attrs{"ts": strconv.FormatInt(time.Now().Unix(), 10)}},
	}}
}
