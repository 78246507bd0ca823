package application

import (
	"context"
	"fmt"

	"github.com/wagate/wagate/domain/device"
)

type DeleteDevice struct {
	ID string
}

type DeleteDeviceHandler struct {
	repo   device.Repository
	wa     device.WhatsAppClient
	feed   *Feed
	owners *Ownership
	clock  Clock
}

// Handle ends the device's session, deletes its WhatsApp data, then the device. The
// session goes first: if it cannot be removed, the device stays and the call can be
// repeated, rather than leaving session keys behind with no device to reach them. It is
// removed again once the device is deleted: a connect that started its session after the
// first removal, and checked the device before it was deleted (see recheck), left a
// session that only this call can still stop.
func (h DeleteDeviceHandler) Handle(ctx context.Context, cmd DeleteDevice) error {
	id, err := device.ParseID(cmd.ID)
	if err != nil {
		return err
	}
	d, err := h.repo.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := h.wa.Remove(ctx, device.Session{DeviceID: id, JID: d.JID()}); err != nil {
		return fmt.Errorf("remove session: %w", err)
	}
	if err := h.repo.Delete(ctx, id, func(d *device.Device) error { d.Remove(h.clock()); return nil }); err != nil {
		return err
	}
	h.feed.Wake()
	if err := h.wa.Remove(context.WithoutCancel(ctx), device.Session{DeviceID: id, JID: d.JID()}); err != nil {
		return fmt.Errorf("remove a session started during the delete: %w", err)
	}
	h.owners.Drop(ctx, id)
	return nil
}
