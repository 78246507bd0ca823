// Package memory implements every outbound port in process memory. The gateway's tests
// share these implementations: the repository and publisher are complete, and the
// WhatsApp client is scripted, standing in for WhatsApp itself.
package memory

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Repository keeps devices in a map, and appends their events to the log.
type Repository struct {
	mu      sync.Mutex
	devices map[device.ID]device.Snapshot
	log     *Log
	msgs    *Messages
}

var _ device.Repository = (*Repository)(nil)

// NewRepository keeps devices whose events go to log and whose messages msgs keeps.
func NewRepository(log *Log, msgs *Messages) *Repository {
	return &Repository{devices: make(map[device.ID]device.Snapshot), log: log, msgs: msgs}
}

func (r *Repository) Create(_ context.Context, d *device.Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.devices[d.ID()]; ok {
		return domain.Errorf(domain.KindConflict, "device %s already exists", d.ID())
	}
	r.devices[d.ID()] = d.Snapshot()
	return nil
}

func (r *Repository) Get(_ context.Context, id device.ID) (*device.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.devices[id]
	if !ok {
		return nil, device.NotFound(id)
	}
	return device.Rehydrate(s), nil
}

func (r *Repository) List(_ context.Context, f device.Filter) (device.Page, error) {
	r.mu.Lock()
	var matching []device.Snapshot
	for _, s := range r.devices {
		if len(f.Statuses) == 0 || slices.Contains(f.Statuses, s.Status) {
			matching = append(matching, s)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(matching, func(a, b device.Snapshot) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	page := device.Page{Total: len(matching)}
	for i := f.Offset; i < len(matching) && i < f.Offset+f.Limit; i++ {
		page.Devices = append(page.Devices, device.Rehydrate(matching[i]))
	}
	return page, nil
}

func (r *Repository) IDs(ctx context.Context, statuses []device.Status) ([]device.ID, error) {
	page, err := r.List(ctx, device.Filter{Statuses: statuses, Limit: math.MaxInt})
	ids := make([]device.ID, len(page.Devices))
	for i, d := range page.Devices {
		ids[i] = d.ID()
	}
	return ids, err
}

func (r *Repository) Count(context.Context) (map[device.Status]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[device.Status]int{}
	for _, s := range r.devices {
		counts[s.Status]++
	}
	return counts, nil
}

func (r *Repository) Update(_ context.Context, id device.ID, fn func(*device.Device) error) (*device.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.devices[id]
	if !ok {
		return nil, device.NotFound(id)
	}
	d := device.Rehydrate(s)
	if err := fn(d); err != nil {
		return nil, err
	}
	if err := r.log.append(d.PullEvents()); err != nil {
		return nil, err
	}
	r.devices[id] = d.Snapshot()
	return d, nil
}

func (r *Repository) Delete(_ context.Context, id device.ID, fn func(*device.Device) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.devices[id]
	if !ok {
		return device.NotFound(id)
	}
	d := device.Rehydrate(s)
	if err := fn(d); err != nil {
		return err
	}
	if err := r.log.append(d.PullEvents()); err != nil {
		return err
	}
	delete(r.devices, id)
	r.msgs.deleteDevice(id)
	return nil
}

func (r *Repository) Ping(context.Context) error { return nil }
