package wasim

import (
	"time"
)

// The account actions simulate what happens to a session outside the
// client: the user unlinks it from the phone, logs in elsewhere, gets banned,
// or the network drops. Each returns how many connections it affected.

// liveConnsLocked returns the logged-in connections of every device of u.
func liveConnsLocked(u *user) []*conn {
	var out []*conn
	for _, d := range u.devices {
		for _, c := range d.conns {
			if !c.ending {
				out = append(out, c)
			}
		}
	}
	return out
}

func (s *Server) accountByPhone(phone string) (*user, error) {
	phone, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	return s.accountLocked(phone)
}

// Unlink removes every linked device of the account, as "Log out" on the
// phone does. Connected clients get a device_removed stream error
// (events.LoggedOut{OnConnect: false}); offline ones get a 401 failure at
// their next login (events.LoggedOut{OnConnect: true}). whatsmeow deletes
// its device store either way. Returns the number of devices removed.
func (s *Server) Unlink(phone string) (int, error) {
	s.mu.Lock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	n := len(u.devices)
	if n == 0 {
		s.mu.Unlock()
		return 0, conflict("no_devices", "%s has no linked device", u.phone)
	}
	conns := liveConnsLocked(u)
	for id := range u.devices {
		delete(u.devices, id)
	}
	s.pairedDevices -= n
	s.mu.Unlock()
	for _, c := range conns {
		go c.endWith(streamDeviceRemoved())
	}
	return n, nil
}

// Kick replaces the account's live sessions, as a login from elsewhere
// does: a <conflict type="replaced"> stream error (events.StreamReplaced).
// whatsmeow does not reconnect by itself; the devices stay linked.
func (s *Server) Kick(phone string) (int, error) {
	s.mu.Lock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	conns := liveConnsLocked(u)
	s.mu.Unlock()
	if len(conns) == 0 {
		return 0, conflict("not_connected", "%s has no connected device", u.phone)
	}
	for _, c := range conns {
		go c.endWith(streamReplaced())
	}
	return len(conns), nil
}

// BanOptions describe a temporary ban.
type BanOptions struct {
	// Code is the events.TempBanReason (default 101, "sent to too many
	// people").
	Code int `json:"code,omitempty"`
	// Expire is how long the ban lasts (default one hour).
	Expire time.Duration `json:"-"`
}

// Ban temporarily bans the account: connected devices get a 402 failure
// (events.TemporaryBan with Code and Expire) and so does every login until
// the ban expires or Unban. Returns the number of connections affected.
func (s *Server) Ban(phone string, opts BanOptions) (int, error) {
	if opts.Code == 0 {
		opts.Code = 101
	}
	if opts.Expire <= 0 {
		opts.Expire = time.Hour
	}
	s.mu.Lock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	u.bannedUntil = time.Now().Add(opts.Expire)
	u.banCode = opts.Code
	conns := liveConnsLocked(u)
	s.mu.Unlock()
	expire := int(opts.Expire.Seconds())
	for _, c := range conns {
		go c.endWith(banFailure(opts.Code, expire))
	}
	return len(conns), nil
}

// Unban lifts a ban.
func (s *Server) Unban(phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		return err
	}
	u.bannedUntil = time.Time{}
	return nil
}

// Drop closes the account's connections without a stream error, like a
// network failure: whatsmeow emits events.Disconnected and reconnects with
// its stored session.
func (s *Server) Drop(phone string) (int, error) {
	s.mu.Lock()
	u, err := s.accountByPhone(phone)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	conns := liveConnsLocked(u)
	s.mu.Unlock()
	if len(conns) == 0 {
		return 0, conflict("not_connected", "%s has no connected device", u.phone)
	}
	for _, c := range conns {
		c.closeNow()
	}
	return len(conns), nil
}
