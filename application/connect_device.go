package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

type ConnectDevice struct {
	ID string
}

type ConnectDeviceHandler struct {
	repo     device.Repository
	wa       device.WhatsAppClient
	pub      publisher
	clock    Clock
	sessions *SessionEventsHandler
	log      *slog.Logger
}

// Handle moves the device to connecting and starts its session. The session goes on in
// the background; its progress arrives as events.
func (h ConnectDeviceHandler) Handle(ctx context.Context, cmd ConnectDevice) (Device, error) {
	id, err := device.ParseID(cmd.ID)
	if err != nil {
		return Device{}, err
	}
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error { return d.Connect(h.clock()) })
	if err != nil {
		return Device{}, err
	}
	h.pub.publish(ctx, d.PullEvents()...)

	if err := h.wa.Connect(ctx, device.Session{DeviceID: id, JID: d.JID()}, h.sessions); err != nil {
		h.log.ErrorContext(ctx, "start session", "device", id, "err", err)
		// The session never started: say so on the device rather than leave it connecting.
		h.sessions.HandleSession(ctx, id, device.SessionFailed{Reason: device.ReasonConnectFailure})
		return Device{}, fmt.Errorf("start session: %w", &domain.Error{
			Kind: domain.KindUnavailable, Message: "the WhatsApp session could not be started",
		})
	}
	return view(d), nil
}
