package wasim

import (
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
)

// login authenticates a returning device by its Noise static key, as the
// real server does, and answers <success> or <failure>.
func (s *Server) login(c *conn, payload *waWa6.ClientPayload) {
	phone := strconv.FormatUint(payload.GetUsername(), 10)
	devID := uint16(payload.GetDevice())
	now := time.Now()
	s.mu.Lock()
	u := s.users[phone]
	var d *device
	if u != nil {
		d = u.devices[devID]
	}
	if d == nil || d.noisePub != c.clientStatic {
		s.mu.Unlock()
		c.log.Info("login refused: unknown device", "phone", phone, "device", devID)
		// events.LoggedOut{OnConnect: true}; whatsmeow deletes its store.
		c.endWith(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "401", "location": "wasim"}})
		return
	}
	if u.isBanned(now) {
		expire := int(u.bannedUntil.Sub(now).Seconds()) + 1
		code := u.banCode
		s.mu.Unlock()
		c.endWith(banFailure(code, expire))
		return
	}
	c.device = d
	d.logins++
	d.conns = append(d.conns, c)
	s.loggedIn++
	s.maxLogins = max(s.maxLogins, d.logins)
	older := append([]*conn(nil), d.conns[:len(d.conns)-1]...)
	lid := d.lidJID()
	s.mu.Unlock()
	c.log.Info("device logged in", "jid", d.pnJID())

	_ = c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t":        strconv.FormatInt(now.Unix(), 10),
		"lid":      lid,
		"location": "wasim",
		"props":    "1",
	}})
	// One session per device: a new login replaces the old one, which is
	// what events.StreamReplaced means.
	for _, o := range older {
		go o.endWith(streamReplaced())
	}
}

func streamReplaced() waBinary.Node {
	return waBinary.Node{Tag: "stream:error", Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "replaced"}}}}
}

func streamDeviceRemoved() waBinary.Node {
	return waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "401"},
		Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "device_removed"}}}}
}

func banFailure(code, expireSeconds int) waBinary.Node {
	return waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{
		"reason": "402",
		"code":   strconv.Itoa(code),
		"expire": strconv.Itoa(expireSeconds),
	}}
}
