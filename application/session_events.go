package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// SessionEventsHandler turns what WhatsApp sessions report into device changes: each is
// applied by the domain, stored, and only then published.
type SessionEventsHandler struct {
	repo  device.Repository
	pub   publisher
	clock Clock
	log   *slog.Logger
}

var _ device.SessionHandler = (*SessionEventsHandler)(nil)

func (h *SessionEventsHandler) HandleSession(ctx context.Context, id device.ID, ev device.SessionEvent) {
	now := h.clock()
	if m, ok := ev.(device.SessionMessage); ok {
		h.pub.publish(ctx, device.NewMessageReceived(id, m.Message, now))
		return
	}
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error { return d.Apply(ev, now) })
	switch kind := domain.KindOf(err); {
	case err == nil:
		h.pub.publish(ctx, d.PullEvents()...)
	case kind == domain.KindConflict || kind == domain.KindNotFound:
		// Late news from a session the device has moved on from (stopped, deleted).
		h.log.DebugContext(ctx, "session event ignored", "device", id, "event", fmt.Sprintf("%T", ev), "why", err)
	default:
		h.log.ErrorContext(ctx, "session event not applied", "device", id, "err", err)
	}
}
