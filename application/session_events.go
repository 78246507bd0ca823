package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// SessionEventsHandler turns what WhatsApp sessions report into device changes and
// messages: each is stored together with its events, and only then published.
type SessionEventsHandler struct {
	repo   device.Repository
	msgs   device.Messages
	owners *Ownership
	feed   *Feed
	clock  Clock
	log    *slog.Logger
}

var _ device.SessionHandler = (*SessionEventsHandler)(nil)

// HandleSession stores what a session reported. It fails only when that could not be
// stored: the WhatsApp client then does not acknowledge a message, and WhatsApp
// delivers it again. A message delivered again is stored and published once.
//
// Writes are fenced by the device's lease: news from a session whose lease has gone to
// another instance is refused (a message is then not acknowledged, and WhatsApp
// delivers it to the new owner).
func (h *SessionEventsHandler) HandleSession(ctx context.Context, id device.ID, ev device.SessionEvent) error {
	ctx = h.owners.Fence(ctx, id)
	now := h.clock()
	if m, ok := ev.(device.SessionMessage); ok {
		added, err := h.msgs.Receive(ctx, device.NewMessageReceived(id, m.Message, now), m.Raw)
		switch {
		case err != nil:
			return fmt.Errorf("store message %s: %w", m.Message.ID, err)
		case added:
			h.feed.Wake()
		default:
			h.log.DebugContext(ctx, "message delivered again: stored already", "device", id, "message", m.Message.ID)
		}
		return nil
	}
	_, err := h.repo.Update(ctx, id, func(d *device.Device) error { return d.Apply(ev, now) })
	switch kind := domain.KindOf(err); {
	case err == nil:
		h.feed.Wake()
	case kind == domain.KindConflict || kind == domain.KindNotFound:
		// Late news from a session the device has moved on from (stopped, deleted).
		h.log.DebugContext(ctx, "session event ignored", "device", id, "event", fmt.Sprintf("%T", ev), "why", err)
	default:
		h.log.ErrorContext(ctx, "session event not applied", "device", id, "err", err)
		return err
	}
	return nil
}
