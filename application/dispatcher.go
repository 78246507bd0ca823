package application

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// DeliveryTiming is how webhooks are delivered: a failed delivery is tried again after
// Backoff, doubling up to MaxBackoff, with jitter, until the event is older than Window;
// then it is a dead letter. Each webhook is delivered by one instance at a time, which
// holds it for Hold and renews it every Sync; every Sync each instance also looks for
// new webhooks. An idle webhook reads the log every Poll.
type DeliveryTiming struct {
	Window, Backoff, MaxBackoff, Hold, Sync, Poll time.Duration
}

// DefaultDeliveryTiming retries for a day, at most every 10 minutes once backed off.
var DefaultDeliveryTiming = DeliveryTiming{Window: 24 * time.Hour, Backoff: time.Second, MaxBackoff: 10 * time.Minute,
	Hold: 10 * time.Second, Sync: 2 * time.Second, Poll: 250 * time.Millisecond}

// deliveryBatch is how many events of the log a webhook reads at once.
const deliveryBatch = 100

// Dispatcher delivers the event log to the webhooks: one worker per webhook, so that a
// slow or failing receiver delays nobody else, sending each wanted event in log order
// (so a device's events are never reordered) and moving the webhook's stored cursor
// past it once it is delivered or dead-lettered. A restart, or another instance taking
// the webhook over, resumes from the cursor: delivery is at least once, and receivers
// drop repeats by X-Wagate-Delivery.
type Dispatcher struct {
	hooks      webhook.Repository
	deliveries webhook.Deliveries
	events     device.EventLog
	sender     webhook.Sender
	self       string
	timing     DeliveryTiming
	clock      Clock
	obs        Observer
	log        *slog.Logger

	mu      sync.Mutex
	workers map[webhook.ID]context.CancelFunc
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(d.timing.Sync)
	defer tick.Stop()
	for {
		d.sync(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sync claims (or renews) the enabled webhooks nobody else delivers, starts a worker for
// each one newly held, and stops the workers of the webhooks no longer held.
func (d *Dispatcher) sync(ctx context.Context, wg *sync.WaitGroup) {
	hooks, err := d.hooks.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhooks: list", "err", err)
		}
		return
	}
	now := d.clock()
	held := map[webhook.ID]bool{}
	for _, w := range hooks {
		if !w.Enabled() {
			continue
		}
		ok, err := d.hooks.Claim(ctx, w.ID(), d.self, now, now.Add(d.timing.Hold))
		if err != nil {
			d.log.Warn("webhooks: claim", "webhook", w.ID(), "err", err)
			continue
		}
		held[w.ID()] = ok
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A worker's entry goes only when its goroutine ends, so that a webhook never has
	// two workers, even while one stopped here is still finishing an attempt.
	for id, stop := range d.workers {
		if !held[id] {
			stop()
		}
	}
	for id, ok := range held {
		if _, running := d.workers[id]; ok && !running {
			wctx, stop := context.WithCancel(ctx)
			d.workers[id] = stop
			wg.Go(func() {
				defer stop()
				d.work(wctx, id)
				d.mu.Lock()
				delete(d.workers, id) // started again at the next sync if still held
				d.mu.Unlock()
			})
		}
	}
}

// work delivers one webhook's events until ctx ends, the webhook is gone, or another
// instance holds it.
func (d *Dispatcher) work(ctx context.Context, id webhook.ID) {
	for ctx.Err() == nil {
		w, err := d.hooks.Get(ctx, id)
		if domain.KindOf(err) == domain.KindNotFound || (err == nil && !w.Enabled()) {
			return
		}
		if err != nil {
			d.pause(ctx, "read webhook", id, err)
			continue
		}
		if !d.redeliver(ctx, w) {
			return
		}
		recs, err := d.events.Read(ctx, device.LogQuery{After: w.Cursor(), Devices: w.Devices(), Limit: deliveryBatch})
		if err != nil {
			d.pause(ctx, "read the event log", id, err)
			continue
		}
		if len(recs) == 0 {
			sleep(ctx, d.timing.Poll)
			continue
		}
		for i, r := range recs {
			wanted := w.Wants(r)
			if wanted && !d.deliver(ctx, w, r) {
				return
			}
			// The cursor moves with each delivered event, and past unwanted ones once
			// per batch: one write per delivery, not per event of the log.
			if wanted || i == len(recs)-1 {
				if ok, err := d.hooks.Advance(context.WithoutCancel(ctx), id, d.self, r.ID); err != nil || !ok {
					if err != nil {
						d.log.Warn("webhooks: move the cursor", "webhook", id, "err", err)
					}
					return // held elsewhere now, or to be read again: at least once
				}
			}
		}
	}
}

// pause logs a failure, throttled by its wait, and waits before trying again.
func (d *Dispatcher) pause(ctx context.Context, what string, id webhook.ID, err error) {
	if ctx.Err() == nil {
		d.log.Warn("webhooks: "+what, "webhook", id, "err", err)
	}
	sleep(ctx, d.timing.Sync)
}

// deliver sends one event until it is delivered or dead, and reports false if ctx
// ended first.
func (d *Dispatcher) deliver(ctx context.Context, w *webhook.Webhook, r device.Record) bool {
	for attempt := 1; ; attempt++ {
		now := d.clock()
		code, latency, err := post(ctx, d.sender, w, r.Name, r.ID.String(), r.Payload, now)
		if ctx.Err() != nil {
			return false // stopping: this attempt does not count
		}
		rec := webhook.Delivery{Webhook: w.ID(), EventID: r.ID, Event: r.Name, DeviceID: r.DeviceID, Attempt: attempt,
			Status: webhook.Delivered, Code: code, Latency: latency, At: now}
		var wait time.Duration
		if err != nil {
			rec.Error = err.Error()
			wait = d.backoff(attempt)
			if now.Add(wait).After(r.At.Add(d.timing.Window)) {
				rec.Status = webhook.Dead
			} else {
				rec.Status, rec.NextAttempt = webhook.Failed, now.Add(wait)
			}
		}
		d.record(ctx, rec)
		if rec.Status != webhook.Failed {
			if rec.Status == webhook.Dead {
				d.log.Warn("webhooks: dead letter: the event could not be delivered within the retry window", "webhook", w.ID(), "event", r.ID, "attempts", attempt, "err", err)
			}
			return true
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// backoff is the wait after the attempt-th failure: doubling from Backoff, at most
// MaxBackoff, each a random 50-100 % of that so that retries spread out.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	wait := d.timing.MaxBackoff
	if attempt < 32 {
		wait = min(d.timing.Backoff<<(attempt-1), d.timing.MaxBackoff)
	}
	return wait/2 + rand.N(wait/2+1)
}

// redeliver sends the webhook's requeued dead letters once each, and reports false if
// ctx ended first. One that fails again is a dead letter again.
func (d *Dispatcher) redeliver(ctx context.Context, w *webhook.Webhook) bool {
	letters, err := d.deliveries.Requeued(ctx, w.ID(), deliveryBatch)
	if err != nil {
		d.pause(ctx, "read requeued dead letters", w.ID(), err)
		return ctx.Err() == nil
	}
	for _, l := range letters {
		recs, err := d.events.Read(ctx, device.LogQuery{After: l.EventID - 1, Limit: 1})
		if err != nil {
			d.pause(ctx, "read the event log", w.ID(), err)
			return ctx.Err() == nil
		}
		now := d.clock()
		rec := webhook.Delivery{Webhook: w.ID(), EventID: l.EventID, Event: l.Event, DeviceID: l.DeviceID, Attempt: l.Attempt + 1, Status: webhook.Dead, At: now}
		if len(recs) == 0 || recs[0].ID != l.EventID {
			rec.Error = "the event is no longer in the log (EVENT_RETENTION)"
		} else {
			var err error
			rec.Code, rec.Latency, err = post(ctx, d.sender, w, l.Event, l.EventID.String(), recs[0].Payload, now)
			if ctx.Err() != nil {
				return false
			}
			if err == nil {
				rec.Status = webhook.Delivered
			} else {
				rec.Error = err.Error()
			}
		}
		d.record(ctx, rec)
		if err := d.deliveries.MarkRetried(context.WithoutCancel(ctx), l.ID); err != nil {
			d.log.Warn("webhooks: mark a dead letter retried", "webhook", w.ID(), "err", err)
		}
	}
	return true
}

// record keeps an attempt, and tells the observer.
func (d *Dispatcher) record(ctx context.Context, rec webhook.Delivery) {
	d.obs.WebhookAttempted(string(rec.Status), rec.Latency)
	if err := d.deliveries.Add(context.WithoutCancel(ctx), rec); err != nil {
		d.log.Warn("webhooks: record a delivery", "webhook", rec.Webhook, "err", err)
	}
}

// post sends one event to the webhook, signed, and returns the receiver's status code
// and how long it took to answer; any answer but 2xx is an error.
func post(ctx context.Context, sender webhook.Sender, w *webhook.Webhook, event, eventID string, payload []byte, now time.Time) (int, time.Duration, error) {
	body, err := json.Marshal(struct {
		Event   string          `json:"event"`
		EventID string          `json:"eventId"`
		Data    json.RawMessage `json:"data"`
	}{event, eventID, payload})
	if err != nil {
		return 0, 0, err
	}
	header := map[string]string{
		"Content-Type":       "application/json",
		"X-Wagate-Event":     event,
		"X-Wagate-Delivery":  eventID,
		"X-Wagate-Webhook":   w.ID().String(),
		"X-Wagate-Timestamp": strconv.FormatInt(now.Unix(), 10),
		"X-Wagate-Signature": w.Sign(now, body),
	}
	start := time.Now()
	code, err := sender.Post(ctx, w.URL(), header, body)
	latency := time.Since(start)
	if err == nil && (code < 200 || code > 299) {
		err = fmt.Errorf("the receiver answered %d", code)
	}
	return code, latency, err
}

// sleep waits for d or until ctx ends, and reports whether it waited it out.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
