package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// RestoreSessions connects again the devices whose session should be running (after a
// restart, or taken over from another instance): linked ones log in with their stored
// link, ones that were pairing start pairing again. Stopped, logged-out and failed
// devices stay as they are.
type RestoreSessions struct {
	// Devices are the devices to restore; nil: every device whose session should run.
	Devices []device.ID
	// StartedAt, when set, is when this gateway started: devices changed since then are
	// left alone, because the API has already dealt with them.
	StartedAt time.Time
	// Concurrency is how many sessions are started at once; 32 when 0. A start mostly
	// waits: for the database (whose journal commits concurrent writes together) and for
	// the session's first connection, which goes on in the background.
	Concurrency int
	Timeout     time.Duration // how long one start may take before the next goes ahead; 30 s when 0
}

// Restored counts what RestoreSessions did.
type Restored struct {
	Started int
	Skipped int // changed through the API meanwhile
	Failed  int
}

// errChanged marks a device changed since the gateway started.
var errChanged = errors.New("changed since the gateway started")

type RestoreSessionsHandler struct {
	repo     device.Repository
	wa       device.WhatsAppClient
	feed     *Feed
	clock    Clock
	sessions *SessionEventsHandler
	log      *slog.Logger
}

func (h RestoreSessionsHandler) Handle(ctx context.Context, cmd RestoreSessions) (Restored, error) {
	if cmd.Concurrency <= 0 {
		cmd.Concurrency = 32
	}
	if cmd.Timeout <= 0 {
		cmd.Timeout = 30 * time.Second
	}
	ids := cmd.Devices
	if ids == nil {
		var err error
		if ids, err = liveDevices(ctx, h.repo); err != nil {
			return Restored{}, fmt.Errorf("list sessions to restore: %w", err)
		}
	}

	var (
		mu  sync.Mutex
		out Restored
		wg  sync.WaitGroup
	)
	work := make(chan device.ID)
	for range min(cmd.Concurrency, len(ids)) {
		wg.Go(func() {
			for id := range work {
				err := h.restoreWithin(ctx, id, cmd.StartedAt, cmd.Timeout)
				mu.Lock()
				switch {
				case errors.Is(err, errChanged):
					out.Skipped++
				case err != nil:
					out.Failed++
					h.log.WarnContext(ctx, "restore session", "device", id, "err", err)
				default:
					out.Started++
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return out, nil
}

// restoreWithin restores one session, giving up waiting after timeout so that one stuck
// device does not hold a worker; the start itself goes on in the background.
func (h RestoreSessionsHandler) restoreWithin(ctx context.Context, id device.ID, startedAt time.Time, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- h.restore(ctx, id, startedAt) }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("still starting after %v", timeout)
	}
}

func (h RestoreSessionsHandler) restore(ctx context.Context, id device.ID, startedAt time.Time) error {
	d, err := h.repo.Update(ctx, id, func(d *device.Device) error {
		if !startedAt.IsZero() && d.Snapshot().UpdatedAt.After(startedAt) {
			return errChanged
		}
		return d.Resume(h.clock())
	})
	if err != nil {
		return err
	}
	h.feed.Wake()
	err = startSession(ctx, h.repo, h.wa, h.sessions, id, d.JID())
	if domain.KindOf(err) == domain.KindConflict {
		return errChanged // the API started it meanwhile
	}
	return err
}
