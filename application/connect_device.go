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

	if err := startSession(ctx, h.wa, h.sessions, id, d.JID()); err != nil {
		h.log.ErrorContext(ctx, "start session", "device", id, "err", err)
		return Device{}, fmt.Errorf("start session: %w", &domain.Error{
			Kind: domain.KindUnavailable, Message: "the WhatsApp session could not be started",
		})
	}
	return view(d), nil
}

// startSession starts a device's session. When it cannot start, the device is marked
// failed rather than left connecting, unless a session already runs (KindConflict).
func startSession(ctx context.Context, wa device.WhatsAppClient, sessions *SessionEventsHandler, id device.ID, jid string) error {
	err := wa.Connect(ctx, device.Session{DeviceID: id, JID: jid}, sessions)
	if err != nil && domain.KindOf(err) != domain.KindConflict {
		sessions.HandleSession(ctx, id, device.SessionFailed{Reason: device.ReasonConnectFailure})
	}
	return err
}
