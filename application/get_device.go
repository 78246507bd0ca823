package application

import (
	"context"

	"github.com/wagate/wagate/domain/device"
)

type GetDevice struct {
	ID string
}

type GetDeviceHandler struct {
	repo device.Repository
}

func (h GetDeviceHandler) Handle(ctx context.Context, q GetDevice) (Device, error) {
	id, err := device.ParseID(q.ID)
	if err != nil {
		return Device{}, err
	}
	d, err := h.repo.Get(ctx, id)
	if err != nil {
		return Device{}, err
	}
	return view(d), nil
}
