package application

import (
	"context"

	"github.com/wagate/wagate/domain/device"
)

type CreateDevice struct {
	Name string
}

type CreateDeviceHandler struct {
	repo  device.Repository
	clock Clock
}

func (h CreateDeviceHandler) Handle(ctx context.Context, cmd CreateDevice) (Device, error) {
	d, err := device.New(cmd.Name, h.clock())
	if err != nil {
		return Device{}, err
	}
	if err := h.repo.Create(ctx, d); err != nil {
		return Device{}, err
	}
	return view(d), nil
}
