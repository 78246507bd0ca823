package application

import (
	"context"
	"fmt"

	"github.com/wagate/wagate/domain/device"
)

type LogoutDevice struct {
	ID string
}

type LogoutDeviceHandler struct {
	repo   device.Repository
	wa     device.WhatsAppClient
	feed   *Feed
	owners *Ownership
	clock  Clock
}

// Handle unlinks the device from its WhatsApp account and deletes the link.
func (h LogoutDeviceHandler) Handle(ctx context.Context, cmd LogoutDevice) (Device, error) {
	id, err := device.ParseID(cmd.ID)
	if err != nil {
		return Device{}, err
	}
	var jid string
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error {
		jid = d.JID()
		return d.LogOut(device.ReasonLoggedOut, h.clock())
	})
	if err != nil {
		return Device{}, err
	}
	h.feed.Wake()
	if err := h.wa.Logout(ctx, device.Session{DeviceID: id, JID: jid}); err != nil {
		return Device{}, fmt.Errorf("log out session: %w", err)
	}
	h.owners.Drop(ctx, id)
	return view(d), nil
}
