package application

import (
	"context"

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
	if q.Limit == 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return DevicePage{}, domain.Errorf(domain.KindInvalid, "limit must be between 1 and %d", MaxPageSize)
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
	page, err := h.repo.List(ctx, f)
	if err != nil {
		return DevicePage{}, err
	}
	out := DevicePage{Devices: make([]Device, 0, len(page.Devices)), Total: page.Total, Limit: q.Limit, Offset: q.Offset}
	for _, d := range page.Devices {
		out.Devices = append(out.Devices, view(d))
	}
	return out, nil
}
