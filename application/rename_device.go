package application

import (
	"context"

	"github.com/wagate/wagate/domain/device"
)

type RenameDevice struct {
	ID   string
	Name string
}

type RenameDeviceHandler struct {
	repo  device.Repository
	clock Clock
}

func (h RenameDeviceHandler) Handle(ctx context.Context, cmd RenameDevice) (Device, error) {
	id, err := device.ParseID(cmd.ID)
	if err != nil {
		return Device{}, err
	}
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error {
		return d.Rename(cmd.Name, h.clock())
	})
	if err != nil {
		return Device{}, err
	}
	return view(d), nil
}
