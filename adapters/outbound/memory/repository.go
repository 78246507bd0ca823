// Package memory implements every outbound port in process memory. The gateway's tests
// share these implementations: the repository and publisher are complete, and the
// WhatsApp client is scripted, standing in for WhatsApp itself.
package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// Repository keeps devices in a map.
type Repository struct {
	mu      sync.Mutex
	devices map[device.ID]device.Snapshot
}

var _ device.Repository = (*Repository)(nil)

func NewRepository() *Repository {
	return &Repository{devices: make(map[device.ID]device.Snapshot)}
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
	r.devices[id] = d.Snapshot()
	return d, nil
}

func (r *Repository) Delete(_ context.Context, id device.ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.devices[id]; !ok {
		return device.NotFound(id)
	}
	delete(r.devices, id)
	return nil
}

func (r *Repository) Ping(context.Context) error { return nil }
