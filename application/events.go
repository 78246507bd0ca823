package application

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

const (
	DefaultEventPage = 100
	MaxEventPage     = 1000
)

// ListEvents reads the event log after a cursor: every device's events, or one
// device's (Device).
type ListEvents struct {
	After  string // an event id; "" reads from the oldest event kept
	Device string // "": every device (within Within)
	Limit  int    // 0: DefaultEventPage
	// Within limits the events to these devices, for keys limited to them; nil: every
	// device.
	Within []device.ID
}

// Event is one event of the log as the REST feed shows it: Data is exactly the payload
// Socket.io listeners get.
type Event struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// EventPage is a page of the log; Next is the cursor for the following page (the id of
// the last event, or the cursor given when there was none).
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next"`
}

type ListEventsHandler struct {
	repo   device.Repository
	events device.EventLog
}

func (h ListEventsHandler) Handle(ctx context.Context, q ListEvents) (EventPage, error) {
	limit, err := pageLimit(q.Limit, DefaultEventPage, MaxEventPage)
	if err != nil {
		return EventPage{}, err
	}
	after, err := device.ParseEventID(q.After)
	if err != nil {
		return EventPage{}, err
	}
	lq := device.LogQuery{After: after, Limit: limit, Devices: q.Within}
	if q.Device != "" {
		id, err := device.ParseID(q.Device)
		if err != nil {
			return EventPage{}, err
		}
		if _, err := h.repo.Get(ctx, id); err != nil {
			return EventPage{}, err
		}
		lq.Devices = []device.ID{id}
	} else if q.Within != nil && len(q.Within) == 0 {
		return EventPage{Events: []Event{}, Next: after.String()}, nil
	}
	recs, err := h.events.Read(ctx, lq)
	if err != nil {
		return EventPage{}, err
	}
	page := EventPage{Events: make([]Event, len(recs)), Next: after.String()}
	for i, r := range recs {
		page.Events[i] = Event{ID: r.ID.String(), Event: r.Name, Data: r.Payload}
		page.Next = r.ID.String()
	}
	return page, nil
}

// ListMessages pages through a device's messages, newest first.
type ListMessages struct {
	Device string
	Chat   string // a chat JID; "": every chat
	Before string // the Next of the previous page; "": from the newest
	Limit  int    // 0: DefaultPageSize
}

type ListMessagesHandler struct {
	repo device.Repository
	msgs device.Messages
}

func (h ListMessagesHandler) Handle(ctx context.Context, q ListMessages) (device.History, error) {
	limit, err := pageLimit(q.Limit, DefaultPageSize, MaxPageSize)
	if err != nil {
		return device.History{}, err
	}
	id, err := device.ParseID(q.Device)
	if err != nil {
		return device.History{}, err
	}
	if _, err := h.repo.Get(ctx, id); err != nil {
		return device.History{}, err
	}
	return h.msgs.History(ctx, id, device.HistoryQuery{Chat: q.Chat, Before: q.Before, Limit: limit})
}

func pageLimit(limit, def, most int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 1 || limit > most {
		return 0, domain.Errorf(domain.KindInvalid, "limit must be between 1 and %d", most)
	}
	return limit, nil
}

// PruneLog deletes the events, messages and webhook delivery attempts older than their
// retention (attempts are kept as long as events, for redelivery), in batches of
// Batch, for at most Budget: cleaning up never holds the database for long, and what is
// left goes at the next run.
type PruneLog struct {
	Events, Messages time.Duration // retention
	Batch            int
	Budget           time.Duration
}

// Pruned counts what PruneLog deleted.
type Pruned struct{ Events, Messages, Deliveries int }

type PruneLogHandler struct {
	events     device.EventLog
	msgs       device.Messages
	deliveries webhook.Deliveries
	clock      Clock
}

func (h PruneLogHandler) Handle(ctx context.Context, cmd PruneLog) (Pruned, error) {
	now := h.clock()
	deadline := now.Add(cmd.Budget)
	var out Pruned
	for _, p := range []struct {
		prune func(context.Context, time.Time, int) (int, error)
		keep  time.Duration
		n     *int
	}{{h.events.Prune, cmd.Events, &out.Events}, {h.msgs.Prune, cmd.Messages, &out.Messages}, {h.deliveries.Prune, cmd.Events, &out.Deliveries}} {
		for {
			n, err := p.prune(ctx, now.Add(-p.keep), cmd.Batch)
			*p.n += n
			if err != nil {
				return out, err
			}
			if n < cmd.Batch || !h.clock().Before(deadline) {
				break
			}
		}
	}
	return out, nil
}
