package application

import (
	"context"
	"errors"
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
	feed     *Feed
	owners   *Ownership
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
	defer h.owners.Starting(id)() // the lease scan must not start it too meanwhile
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error { return d.Connect(h.clock()) })
	if err != nil {
		return Device{}, err
	}
	h.feed.Wake()
	if !h.owners.Takes(ctx) {
		return view(d), nil // a less busy instance claims it within LeaseTiming.Scan
	}
	if err := h.owners.Claim(ctx, id); domain.KindOf(err) == domain.KindConflict {
		// Another instance's scan saw the device live as soon as it was committed, and
		// claimed it first: its session starts there.
		return view(d), nil
	} else if err != nil {
		return Device{}, err
	}
	switch err := startSession(ctx, h.repo, h.wa, h.sessions, id, d.JID()); {
	case err == nil || domain.KindOf(err) == domain.KindConflict:
		// Running: started here, or already running (another request started it).
	case domain.KindOf(err) == domain.KindNotFound:
		return Device{}, err // deleted meanwhile
	default:
		h.log.ErrorContext(ctx, "start session", "device", id, "err", err)
		return Device{}, fmt.Errorf("start session: %w", &domain.Error{
			Kind: domain.KindUnavailable, Message: "the WhatsApp session could not be started",
		})
	}
	return view(d), nil
}

// startSession starts a device's session. When it cannot start, the device is marked
// failed rather than left connecting, unless a session already runs (KindConflict).
func startSession(ctx context.Context, repo device.Repository, wa device.WhatsAppClient, sessions *SessionEventsHandler, id device.ID, jid string) error {
	s := device.Session{DeviceID: id, JID: jid}
	err := wa.Connect(ctx, s, sessions)
	if err == nil {
		err = recheck(ctx, repo, wa, s)
	}
	if err != nil && domain.KindOf(err) != domain.KindConflict {
		sessions.HandleSession(ctx, id, device.SessionFailed{Reason: device.ReasonConnectFailure})
	}
	return err
}

// recheck stops a session that has just started when its device is gone. A delete that
// ran between the caller's update and the start found no session to stop, and nothing
// else could stop it later: no API reaches a deleted device. Checking after the session
// is registered closes that window together with DeleteDeviceHandler, which stops the
// session again after deleting the device: either this check sees the device deleted, or
// the delete comes after it and finds the session. When the device cannot be read, the
// session is stopped too, since whether it is still wanted cannot be told.
func recheck(ctx context.Context, repo device.Repository, wa device.WhatsAppClient, s device.Session) error {
	_, err := repo.Get(ctx, s.DeviceID)
	if err == nil {
		return nil
	}
	stop := context.WithoutCancel(ctx) // the session must not outlive a cancelled request
	if domain.KindOf(err) == domain.KindNotFound {
		return errors.Join(err, wa.Remove(stop, s))
	}
	return errors.Join(fmt.Errorf("check the device after starting its session: %w", err), wa.Disconnect(stop, s.DeviceID))
}
