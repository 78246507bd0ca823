package application

import (
	"cmp"
	"context"
	"slices"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

type ListDevices struct {
	Statuses []string // empty: any status
	Limit    int      // 0: DefaultPageSize
	Offset   int
	// Within limits the listing to these devices, for keys limited to them; nil: every
	// device.
	Within []device.ID
}

// DevicePage is one page of devices and how many match in all.
type DevicePage struct {
	Devices []Device
	Total   int
	Limit   int
	Offset  int
}

type ListDevicesHandler struct {
	repo device.Repository
}

func (h ListDevicesHandler) Handle(ctx context.Context, q ListDevices) (DevicePage, error) {
	var err error
	if q.Limit, err = pageLimit(q.Limit, DefaultPageSize, MaxPageSize); err != nil {
		return DevicePage{}, err
	}
	if q.Offset < 0 {
		return DevicePage{}, domain.Errorf(domain.KindInvalid, "offset must not be negative")
	}
	f := device.Filter{Limit: q.Limit, Offset: q.Offset}
	for _, name := range q.Statuses {
		s, err := device.ParseStatus(name)
		if err != nil {
			return DevicePage{}, err
		}
		f.Statuses = append(f.Statuses, s)
	}
	page, err := h.list(ctx, f, q.Within)
	if err != nil {
		return DevicePage{}, err
	}
	out := DevicePage{Devices: make([]Device, 0, len(page.Devices)), Total: page.Total, Limit: q.Limit, Offset: q.Offset}
	for _, d := range page.Devices {
		out.Devices = append(out.Devices, view(d))
	}
	return out, nil
}

// list pages through every device, or only through those of within. A key is limited to
// at most key.MaxDevices devices, so these are read one by one and paged here.
func (h ListDevicesHandler) list(ctx context.Context, f device.Filter, within []device.ID) (device.Page, error) {
	if within == nil {
		return h.repo.List(ctx, f)
	}
	var all []*device.Device
	for _, id := range within {
		d, err := h.repo.Get(ctx, id)
		if domain.KindOf(err) == domain.KindNotFound {
			continue
		} else if err != nil {
			return device.Page{}, err
		}
		if len(f.Statuses) == 0 || slices.Contains(f.Statuses, d.Status()) {
			all = append(all, d)
		}
	}
	// The order of the repository's listing: oldest first.
	slices.SortFunc(all, func(a, b *device.Device) int {
		return cmp.Or(a.Snapshot().CreatedAt.Compare(b.Snapshot().CreatedAt), cmp.Compare(a.ID(), b.ID()))
	})
	page := device.Page{Total: len(all)}
	if f.Offset < len(all) {
		page.Devices = all[f.Offset:min(len(all), f.Offset+f.Limit)]
	}
	return page, nil
}
