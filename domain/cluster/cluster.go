// Package cluster gives each device's WhatsApp session exactly one owner among the
// gateway's instances: a lease in the shared database, with an expiry and a fencing
// generation. One instance alone owns every session in the same way.
package cluster

import (
	"context"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Lease is an instance's claim on a device's session: only Owner runs it, until
// Expires. Generation grows with each claim; the session's writes carry it (Fence) and
// are refused once another claim has followed.
type Lease struct {
	DeviceID   device.ID
	Owner      string
	Generation int64
	Expires    time.Time
}

// Instance is a running gateway process.
type Instance struct {
	ID      string
	Address string // where the others reach it (http://host:port)
}

// Leases keeps the leases and the instances that hold them. Times come from the caller,
// so instances must keep their clocks in sync (NTP), as any lease scheme needs.
type Leases interface {
	// Claim takes the lease of id for owner until expires, unless another owner holds
	// it unexpired at now: then ok is false and l is that owner's lease.
	Claim(ctx context.Context, id device.ID, owner string, now, expires time.Time) (l Lease, ok bool, err error)
	// Renew extends owner's leases of ids, returning those still owner's.
	Renew(ctx context.Context, owner string, ids []device.ID, expires time.Time) ([]device.ID, error)
	// Release lets owner's leases of ids expire at once, for another instance to claim.
	Release(ctx context.Context, owner string, ids []device.ID, now time.Time) error
	// Get returns the lease of id; ok is false when there is none.
	Get(ctx context.Context, id device.ID) (l Lease, ok bool, err error)
	// Held counts the unexpired leases of each owner at now.
	Held(ctx context.Context, now time.Time) (map[string]int, error)
	// Holders returns the owner of each lease unexpired at now, by device.
	Holders(ctx context.Context, now time.Time) (map[device.ID]string, error)
	// Beat records that inst is alive until expires; Live lists the instances alive at now.
	Beat(ctx context.Context, inst Instance, expires time.Time) error
	Live(ctx context.Context, now time.Time) ([]Instance, error)
}

// Fence is the lease a write is made under. A repository that finds a fence in the
// context (WithFence) refuses the write, with ErrStale, unless that lease is still the
// device's: a session that lost its lease cannot overwrite what the new owner reports.
type Fence struct {
	Owner      string
	Generation int64
}

type fenceKey struct{}

// WithFence returns a context whose writes are made under f.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceOf returns the fence of ctx, if any.
func FenceOf(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}

// Stale is the error of a write refused by its fence.
func Stale(id device.ID) error {
	return domain.Errorf(domain.KindConflict, "the session of device %s has another owner now", id)
}
