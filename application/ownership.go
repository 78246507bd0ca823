package application

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
)

// LeaseTiming is how the instances share sessions: a lease lasts TTL, its owner renews it
// every Renew, and every Scan each instance claims the live devices nobody holds, up to
// its fair share. A dead instance's sessions are taken over within TTL + Scan, plus the
// time to connect. An owner that could not renew for TTL - Renew stops its sessions,
// before its leases can lapse and another instance start them.
type LeaseTiming struct {
	TTL, Renew, Scan time.Duration
}

// DefaultLeaseTiming takes a dead instance's sessions over within 12 s plus connecting.
var DefaultLeaseTiming = LeaseTiming{TTL: 10 * time.Second, Renew: 3 * time.Second, Scan: 2 * time.Second}

// Ownership runs, on one instance, the sessions whose leases it holds (domain/cluster):
// it claims the live devices that have no owner, spreading them evenly over the
// instances alive, renews its leases, and fences its sessions' writes with them.
type Ownership struct {
	self    string
	leases  cluster.Leases
	repo    device.Repository
	wa      device.WhatsAppClient
	restore RestoreSessionsHandler
	timing  LeaseTiming
	clock   Clock
	obs     Observer
	log     *slog.Logger

	mu        sync.Mutex
	owned     map[device.ID]int64 // the generation of each lease held
	starting  map[device.ID]int   // sessions the API is starting (see Starting), by how many requests
	renewedAt time.Time           // the last time every lease held was renewed
	address   string              // where the other instances reach this one
}

// Fence returns ctx with the fence of the device's lease: writes made with it are
// refused once the lease is no longer this instance's. Without a lease the fence
// matches nothing.
func (o *Ownership) Fence(ctx context.Context, id device.ID) context.Context {
	o.mu.Lock()
	gen := o.owned[id]
	o.mu.Unlock()
	return cluster.WithFence(ctx, cluster.Fence{Owner: o.self, Generation: gen})
}

// Starting tells the lease scan to leave the device alone until done is called: the API
// is starting its session. Without it, the scan could see the device live (the API has
// just moved it to connecting) before the API claims it, and start the same session at
// the same time; the API's start would then fail.
func (o *Ownership) Starting(id device.ID) (done func()) {
	o.mu.Lock()
	o.starting[id]++
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.starting[id]--; o.starting[id] <= 0 {
			delete(o.starting, id)
		}
	}
}

// Claim takes the device's lease for this instance, for a session the API starts. It
// fails with a conflict when another instance holds it.
func (o *Ownership) Claim(ctx context.Context, id device.ID) error {
	now := o.clock()
	l, ok, err := o.leases.Claim(ctx, id, o.self, now, now.Add(o.timing.TTL))
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.KindConflict, "the session of device %s runs on another instance (%s)", id, l.Owner)
	}
	o.mu.Lock()
	_, renewed := o.owned[id]
	o.owned[id] = l.Generation
	o.mu.Unlock()
	if !renewed {
		o.obs.LeaseChanged(LeaseClaimed)
	}
	return nil
}

// Takes tells whether this instance should run one more session: whether it holds fewer
// leases than its fair share among the instances alive. When it cannot tell, it does.
func (o *Ownership) Takes(ctx context.Context) bool {
	now := o.clock()
	instances, err := o.leases.Live(ctx, now)
	if err != nil || len(instances) <= 1 {
		return true
	}
	held, err := o.leases.Held(ctx, now)
	if err != nil {
		return true
	}
	total := 0
	for _, n := range held {
		total += n
	}
	return held[o.self] <= total/len(instances)
}

// Owner tells where the device's session runs: here (local), or on the instance at
// address. It fails with KindUnavailable when that instance has stopped beating: its
// lease is about to lapse, and another instance will take the session over.
func (o *Ownership) Owner(ctx context.Context, id device.ID) (address string, local bool, err error) {
	now := o.clock()
	l, ok, err := o.leases.Get(ctx, id)
	switch {
	case err != nil:
		return "", false, err
	case !ok || l.Owner == o.self || !l.Expires.After(now):
		return "", true, nil
	}
	instances, err := o.leases.Live(ctx, now)
	if err != nil {
		return "", false, err
	}
	for _, in := range instances {
		if in.ID == l.Owner {
			return in.Address, false, nil
		}
	}
	return "", false, domain.Errorf(domain.KindUnavailable, "the instance running the session of device %s does not answer: another takes it over within %v", id, o.timing.TTL)
}

// Drop lets go of the device's lease once its session has stopped.
func (o *Ownership) Drop(ctx context.Context, id device.ID) {
	o.mu.Lock()
	_, held := o.owned[id]
	delete(o.owned, id)
	o.mu.Unlock()
	if held {
		if err := o.leases.Release(ctx, o.self, []device.ID{id}, o.clock()); err != nil {
			o.log.WarnContext(ctx, "release lease", "device", id, "err", err)
			return
		}
		o.obs.LeaseChanged(LeaseReleased)
	}
}

// Run claims, renews and beats until ctx ends; address is where the other instances
// reach this one.
func (o *Ownership) Run(ctx context.Context, address string) {
	renew, scan := time.NewTicker(o.timing.Renew), time.NewTicker(o.timing.Scan)
	defer renew.Stop()
	defer scan.Stop()
	o.mu.Lock()
	o.renewedAt, o.address = o.clock(), address
	o.mu.Unlock()
	for {
		o.beat(ctx, address)
		o.claimFree(ctx)
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			o.renew(ctx)
		case <-scan.C:
		}
	}
}

func (o *Ownership) beat(ctx context.Context, address string) {
	if err := o.leases.Beat(ctx, cluster.Instance{ID: o.self, Address: address}, o.clock().Add(o.timing.TTL)); err != nil && ctx.Err() == nil {
		o.log.Warn("record this instance", "err", err)
	}
}

// renew extends the leases held, stops the sessions whose lease went to another
// instance, and stops them all when the leases could not be renewed for too long.
func (o *Ownership) renew(ctx context.Context) {
	now := o.clock()
	ids := o.held()
	o.mu.Lock()
	since := now.Sub(o.renewedAt)
	o.mu.Unlock()
	renewed, err := o.leases.Renew(ctx, o.self, ids, now.Add(o.timing.TTL))
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		o.log.Error("renew leases", "err", err, "unrenewed", since)
		if since >= o.timing.TTL-o.timing.Renew {
			o.log.Error("leases could not be renewed in time: stopping their sessions before they lapse", "sessions", len(ids))
			o.stop(ctx, ids, LeaseLost)
		}
		return
	}
	o.mu.Lock()
	o.renewedAt = now
	o.mu.Unlock()
	if lost := missing(ids, renewed); len(lost) > 0 {
		o.log.Warn("leases taken over by another instance: stopping their sessions", "devices", lost)
		o.stop(ctx, lost, LeaseLost)
	}
}

// missing returns the ids that among does not list, in their order. among goes into a
// set: it may list 10,000 devices.
func missing(ids, among []device.ID) []device.ID {
	listed := make(map[device.ID]bool, len(among))
	for _, id := range among {
		listed[id] = true
	}
	var out []device.ID
	for _, id := range ids {
		if !listed[id] {
			out = append(out, id)
		}
	}
	return out
}

// held lists the devices whose leases this instance holds.
func (o *Ownership) held() []device.ID {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Collect(maps.Keys(o.owned))
}

// stopEnded stops the sessions held whose device no longer wants one (it is not among
// the live devices): stopped or deleted through another instance, whose API could not
// reach this one's session. held was taken before live was read, so that a session
// claimed meanwhile, whose device was live before its claim, is not taken for ended.
func (o *Ownership) stopEnded(ctx context.Context, held, live []device.ID) {
	if ended := missing(held, live); len(ended) > 0 {
		o.log.Info("devices stopped elsewhere: stopping their sessions", "devices", ended)
		o.stop(ctx, ended, LeaseReleased)
		if err := o.leases.Release(ctx, o.self, ended, o.clock()); err != nil {
			o.log.Warn("release leases", "err", err)
		}
	}
}

// stop ends sessions without changing their devices: their next owner runs them. Their
// leases are counted as change.
func (o *Ownership) stop(ctx context.Context, ids []device.ID, change LeaseChange) {
	for _, id := range ids {
		o.mu.Lock()
		_, held := o.owned[id]
		delete(o.owned, id)
		o.mu.Unlock()
		if held {
			o.obs.LeaseChanged(change)
		}
		if err := o.wa.Disconnect(context.WithoutCancel(ctx), id); err != nil {
			o.log.Warn("stop session", "device", id, "err", err)
		}
	}
}

// claimFree stops the sessions held whose device has ended, then claims the live devices
// that have no owner, up to this instance's fair share of them, and starts their
// sessions.
func (o *Ownership) claimFree(ctx context.Context) {
	now := o.clock()
	ours := o.held()
	instances, err := o.leases.Live(ctx, now)
	if err != nil {
		o.log.Warn("list instances", "err", err)
		return
	}
	held, err := o.leases.Held(ctx, now)
	if err != nil {
		o.log.Warn("count leases", "err", err)
		return
	}
	live, err := liveDevices(ctx, o.repo)
	if err != nil {
		o.log.Warn("list live devices", "err", err)
		return
	}
	o.stopEnded(ctx, ours, live)
	share := (len(live) + max(len(instances), 1) - 1) / max(len(instances), 1)
	if held[o.self] >= share {
		return
	}
	// One read of who holds what rather than one per live device: with 10,000 devices
	// and a few free, the scan would otherwise read every held lease one by one.
	holders, err := o.leases.Holders(ctx, now)
	if err != nil {
		o.log.Warn("list lease holders", "err", err)
		return
	}
	// Sessions start as their leases are claimed, a chunk at a time, rather than once all
	// are: after a restart with 10,000 devices, claiming alone takes seconds.
	chunks := make(chan []device.ID, 1)
	started := make(chan struct{})
	go func() {
		defer close(started)
		for chunk := range chunks {
			o.startClaimed(ctx, chunk)
		}
	}()
	var claimed []device.ID
	for _, id := range live {
		if held[o.self] >= share || ctx.Err() != nil {
			break
		}
		o.mu.Lock()
		_, mine := o.owned[id]
		_, busy := o.starting[id]
		o.mu.Unlock()
		if owner, ok := holders[id]; mine || busy || (ok && owner != o.self) {
			continue
		}
		if err := o.Claim(ctx, id); err != nil {
			continue // another instance was quicker
		}
		held[o.self]++
		if claimed = append(claimed, id); len(claimed) == claimChunk {
			chunks <- claimed
			claimed = nil
		}
	}
	if len(claimed) > 0 {
		chunks <- claimed
	}
	close(chunks)
	<-started
}

// claimChunk is how many claimed sessions are handed to the restore at once.
const claimChunk = 64

// startClaimed starts the sessions of devices just claimed.
func (o *Ownership) startClaimed(ctx context.Context, ids []device.ID) {
	r, err := o.restore.Handle(ctx, RestoreSessions{Devices: ids})
	switch {
	case err != nil:
		o.log.Error("start claimed sessions", "err", err)
	default:
		o.log.Info("sessions claimed", "started", r.Started, "skipped", r.Skipped, "failed", r.Failed)
	}
}

// Release stops owning: once the sessions have stopped (shutting down), their leases
// are let go at once, and this instance leaves the live ones, so that the others take
// the sessions over without waiting, counting their fair shares without it.
func (o *Ownership) Release(ctx context.Context) error {
	o.mu.Lock()
	ids := slices.Collect(maps.Keys(o.owned))
	clear(o.owned)
	address := o.address
	o.mu.Unlock()
	now := o.clock()
	err := o.leases.Release(ctx, o.self, ids, now)
	if err == nil {
		for range ids {
			o.obs.LeaseChanged(LeaseReleased)
		}
	}
	return errors.Join(err, o.leases.Beat(ctx, cluster.Instance{ID: o.self, Address: address}, now))
}

// liveDevices lists the devices whose session should be running.
func liveDevices(ctx context.Context, repo device.Repository) ([]device.ID, error) {
	return repo.IDs(ctx, []device.Status{device.StatusConnecting, device.StatusPairing, device.StatusAuthenticated, device.StatusReady})
}
