package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
)

// Leases keeps device leases and instances in maps: one process, one owner.
type Leases struct {
	mu        sync.Mutex
	leases    map[device.ID]cluster.Lease
	instances map[string]instance
}

type instance struct {
	cluster.Instance
	expires time.Time
}

var _ cluster.Leases = (*Leases)(nil)

func NewLeases() *Leases {
	return &Leases{leases: map[device.ID]cluster.Lease{}, instances: map[string]instance{}}
}

func (l *Leases) Claim(_ context.Context, id device.ID, owner string, now, expires time.Time) (cluster.Lease, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.leases[id]
	if ok && cur.Owner != owner && !cur.Expires.Before(now) {
		return cur, false, nil
	}
	next := cluster.Lease{DeviceID: id, Owner: owner, Generation: cur.Generation + 1, Expires: expires}
	l.leases[id] = next
	return next, true, nil
}

func (l *Leases) Renew(_ context.Context, owner string, ids []device.ID, expires time.Time) ([]device.ID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []device.ID
	for _, id := range ids {
		if cur, ok := l.leases[id]; ok && cur.Owner == owner {
			cur.Expires = expires
			l.leases[id] = cur
			out = append(out, id)
		}
	}
	return out, nil
}

func (l *Leases) Release(_ context.Context, owner string, ids []device.ID, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if cur, ok := l.leases[id]; ok && cur.Owner == owner {
			cur.Expires = now
			l.leases[id] = cur
		}
	}
	return nil
}

func (l *Leases) Get(_ context.Context, id device.ID) (cluster.Lease, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.leases[id]
	return cur, ok, nil
}

func (l *Leases) Held(_ context.Context, now time.Time) (map[string]int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := map[string]int{}
	for _, cur := range l.leases {
		if cur.Expires.After(now) {
			held[cur.Owner]++
		}
	}
	return held, nil
}

func (l *Leases) Holders(_ context.Context, now time.Time) (map[device.ID]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[device.ID]string{}
	for id, cur := range l.leases {
		if cur.Expires.After(now) {
			out[id] = cur.Owner
		}
	}
	return out, nil
}

func (l *Leases) Beat(_ context.Context, inst cluster.Instance, expires time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.instances[inst.ID] = instance{inst, expires}
	return nil
}

func (l *Leases) Live(_ context.Context, now time.Time) ([]cluster.Instance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []cluster.Instance
	for _, in := range l.instances {
		if in.expires.After(now) {
			out = append(out, in.Instance)
		}
	}
	slices.SortFunc(out, func(a, b cluster.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
