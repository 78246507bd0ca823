// Package apikey lets callers in by their API key, for every inbound adapter (REST and
// Socket.io): it asks the application what the key allows, logs failed attempts without
// the key, and throttles the client addresses they come from.
package apikey

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/key"
)

// Authenticator tells what a presented key may do; application.AuthenticateHandler is one.
type Authenticator interface {
	Handle(ctx context.Context, secret string) (key.Access, error)
}

// Options tunes the throttling of failed attempts.
type Options struct {
	// FailureBurst failed attempts from one address are answered as usual; past them,
	// one more is allowed every FailureEvery, and the others are refused as throttled.
	FailureBurst int           // default 20
	FailureEvery time.Duration // default 3s
	// Addresses is how many client addresses are tracked at once (default 65,536). Past
	// it the least recently failing ones are forgotten, which only gives them a fresh
	// budget: memory stays bounded whatever the number of attacking addresses.
	Addresses int
	// Timeout bounds a key lookup (default 5s).
	Timeout time.Duration
}

// Guard checks keys and throttles the addresses that keep presenting wrong ones.
type Guard struct {
	auth    Authenticator
	log     *slog.Logger
	opts    Options
	mu      sync.Mutex // makes get-or-add of a limiter atomic
	buckets *lru.Cache[netip.Prefix, *rate.Limiter]
}

// New returns a Guard that asks auth.
func New(auth Authenticator, log *slog.Logger, o Options) *Guard {
	if o.FailureBurst <= 0 {
		o.FailureBurst = 20
	}
	if o.FailureEvery <= 0 {
		o.FailureEvery = 3 * time.Second
	}
	if o.Addresses <= 0 {
		o.Addresses = 1 << 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	buckets, _ := lru.New[netip.Prefix, *rate.Limiter](o.Addresses) // fails only for a size < 1
	return &Guard{auth: auth, log: log, opts: o, buckets: buckets}
}

// ThrottledMessage is the message of an attempt refused because its address failed too
// often; the error is a domain.KindRateLimited domain.Error whose RetryAfter says when
// the address may try again.
const ThrottledMessage = "Too many failed authentication attempts: retry later"

// Check returns what secret allows. A failure counts against the client's address
// (remote, as host:port or host); once its budget is spent, failures come back as
// domain.KindRateLimited errors (ThrottledMessage). Only failures count: a valid key is
// never held back by others' failures from the same address. via names the transport
// in logs.
func (g *Guard) Check(ctx context.Context, secret, remote, via string) (key.Access, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	a, err := g.auth.Handle(ctx, secret)
	if err == nil || domain.KindOf(err) != domain.KindUnauthorized {
		return a, err
	}
	prefix := clientPrefix(remote)
	if wait, ok := g.fail(prefix); !ok {
		g.log.Warn("authentication throttled", "via", via, "client", prefix.String(), "reason", err.Error(), "retry_after", wait.Round(time.Millisecond))
		return key.Access{}, &domain.Error{Kind: domain.KindRateLimited, Message: ThrottledMessage, RetryAfter: wait}
	}
	g.log.Warn("authentication failed", "via", via, "client", prefix.String(), "reason", err.Error())
	return key.Access{}, err
}

// fail spends one failure of prefix's budget; when none is left it reports how long
// until one is.
func (g *Guard) fail(prefix netip.Prefix) (time.Duration, bool) {
	g.mu.Lock()
	l, ok := g.buckets.Get(prefix)
	if !ok {
		l = rate.NewLimiter(rate.Every(g.opts.FailureEvery), g.opts.FailureBurst)
		g.buckets.Add(prefix, l)
	}
	g.mu.Unlock()
	now := time.Now()
	if l.AllowN(now, 1) {
		return 0, true
	}
	r := l.ReserveN(now, 1)
	defer r.CancelAt(now) // only asking how long: a refused attempt does not extend the wait
	return r.DelayFrom(now), false
}

// clientPrefix is what failures are counted by: the IPv4 address, or the IPv6 /64 that
// one host usually holds whole.
func clientPrefix(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	addr := ap.Addr()
	if err != nil {
		if addr, err = netip.ParseAddr(remote); err != nil {
			return netip.Prefix{} // unknown: all such clients share one budget
		}
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32)
	}
	p, _ := addr.Prefix(64)
	return p
}
