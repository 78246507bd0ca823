package application

import (
	"context"
	"fmt"

	"github.com/wagate/wagate/domain/device"
)

type DisconnectDevice struct {
	ID string
}

type DisconnectDeviceHandler struct {
	repo   device.Repository
	wa     device.WhatsAppClient
	feed   *Feed
	owners *Ownership
	clock  Clock
}

// Handle stops the device's session and keeps its link. The status changes first, so
// that news still queued from the session is refused by the state machine.
func (h DisconnectDeviceHandler) Handle(ctx context.Context, cmd DisconnectDevice) (Device, error) {
	id, err := device.ParseID(cmd.ID)
	if err != nil {
		return Device{}, err
	}
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error { return d.Disconnect(h.clock()) })
	if err != nil {
		return Device{}, err
	}
	h.feed.Wake()
	if err := h.wa.Disconnect(ctx, id); err != nil {
		return Device{}, fmt.Errorf("end session: %w", err)
	}
	h.owners.Drop(ctx, id)
	return view(d), nil
}
