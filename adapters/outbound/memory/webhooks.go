package memory

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/webhook"
)

// Webhooks keeps webhooks, who delivers each, and their delivery attempts, in maps.
type Webhooks struct {
	mu         sync.Mutex
	hooks      map[webhook.ID]webhook.Snapshot
	owners     map[webhook.ID]claim
	deliveries []webhook.Delivery
}

type claim struct {
	owner   string
	expires time.Time
}

var (
	_ webhook.Repository = (*Webhooks)(nil)
	_ webhook.Deliveries = (*Deliveries)(nil)
)

func NewWebhooks() *Webhooks {
	return &Webhooks{hooks: map[webhook.ID]webhook.Snapshot{}, owners: map[webhook.ID]claim{}}
}

// Deliveries is the delivery attempts of w's webhooks.
func (w *Webhooks) Deliveries() *Deliveries { return &Deliveries{w} }

func (w *Webhooks) Create(_ context.Context, h *webhook.Webhook) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.hooks[h.ID()]; ok {
		return domain.Errorf(domain.KindConflict, "webhook %s already exists", h.ID())
	}
	w.hooks[h.ID()] = h.Snapshot()
	return nil
}

func (w *Webhooks) Get(_ context.Context, id webhook.ID) (*webhook.Webhook, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.hooks[id]
	if !ok {
		return nil, webhook.NotFound(id)
	}
	return webhook.Rehydrate(s), nil
}

func (w *Webhooks) List(context.Context) ([]*webhook.Webhook, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*webhook.Webhook
	for _, s := range w.hooks {
		out = append(out, webhook.Rehydrate(s))
	}
	slices.SortFunc(out, func(a, b *webhook.Webhook) int {
		return cmp.Or(a.Snapshot().CreatedAt.Compare(b.Snapshot().CreatedAt), cmp.Compare(a.ID(), b.ID()))
	})
	return out, nil
}

func (w *Webhooks) Update(_ context.Context, id webhook.ID, fn func(*webhook.Webhook) error) (*webhook.Webhook, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.hooks[id]
	if !ok {
		return nil, webhook.NotFound(id)
	}
	h := webhook.Rehydrate(s)
	if err := fn(h); err != nil {
		return nil, err
	}
	next := h.Snapshot()
	next.Cursor = s.Cursor // the dispatcher's alone
	w.hooks[id] = next
	return webhook.Rehydrate(next), nil
}

func (w *Webhooks) Delete(_ context.Context, id webhook.ID) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.hooks[id]; !ok {
		return webhook.NotFound(id)
	}
	delete(w.hooks, id)
	delete(w.owners, id)
	w.deliveries = slices.DeleteFunc(w.deliveries, func(d webhook.Delivery) bool { return d.Webhook == id })
	return nil
}

func (w *Webhooks) Claim(_ context.Context, id webhook.ID, owner string, now, expires time.Time) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.hooks[id]; !ok {
		return false, nil
	}
	if c, ok := w.owners[id]; ok && c.owner != owner && c.expires.After(now) {
		return false, nil
	}
	w.owners[id] = claim{owner, expires}
	return true, nil
}

func (w *Webhooks) Advance(_ context.Context, id webhook.ID, owner string, cursor device.EventID) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.hooks[id]
	if !ok || w.owners[id].owner != owner || cursor <= s.Cursor {
		return false, nil
	}
	s.Cursor = cursor
	w.hooks[id] = s
	return true, nil
}

// Deliveries keeps delivery attempts in a slice.
type Deliveries struct{ w *Webhooks }

func (d *Deliveries) Add(_ context.Context, del webhook.Delivery) error {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	del.ID = int64(len(d.w.deliveries)) + 1
	if n := len(d.w.deliveries); n > 0 {
		del.ID = d.w.deliveries[n-1].ID + 1
	}
	d.w.deliveries = append(d.w.deliveries, del)
	return nil
}

func (d *Deliveries) List(_ context.Context, id webhook.ID, limit int) ([]webhook.Delivery, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	var out []webhook.Delivery
	for i := len(d.w.deliveries) - 1; i >= 0 && len(out) < limit; i-- {
		if del := d.w.deliveries[i]; del.Webhook == id {
			out = append(out, del)
		}
	}
	return out, nil
}

func (d *Deliveries) setStatus(id webhook.ID, from, to webhook.Status, only int64) int {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	n := 0
	for i, del := range d.w.deliveries {
		if del.Webhook == id && del.Status == from && (only == 0 || del.ID == only) {
			d.w.deliveries[i].Status = to
			n++
		}
	}
	return n
}

func (d *Deliveries) Requeue(_ context.Context, id webhook.ID) (int, error) {
	return d.setStatus(id, webhook.Dead, webhook.Requeued, 0), nil
}

func (d *Deliveries) Requeued(_ context.Context, id webhook.ID, limit int) ([]webhook.Delivery, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	var out []webhook.Delivery
	for _, del := range d.w.deliveries {
		if del.Webhook == id && del.Status == webhook.Requeued && len(out) < limit {
			out = append(out, del)
		}
	}
	slices.SortFunc(out, func(a, b webhook.Delivery) int { return cmp.Compare(a.EventID, b.EventID) })
	return out, nil
}

func (d *Deliveries) MarkRetried(_ context.Context, delivery int64) error {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	for i, del := range d.w.deliveries {
		if del.ID == delivery && del.Status == webhook.Requeued {
			d.w.deliveries[i].Status = webhook.Retried
		}
	}
	return nil
}

func (d *Deliveries) Prune(_ context.Context, before time.Time, limit int) (int, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	n := 0
	d.w.deliveries = slices.DeleteFunc(d.w.deliveries, func(del webhook.Delivery) bool {
		if n < limit && del.At.Before(before) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

// Post is a request a Sender received.
type Post struct {
	URL    string
	Header map[string]string
	Body   []byte
}

// Sender records the posts it is given and answers them with the status code its answer
// function returns (200 until SetAnswer). Check refuses URLs whose host is
// "refused.invalid".
type Sender struct {
	mu     sync.Mutex
	posts  []Post
	answer func(Post) int
}

var _ webhook.Sender = (*Sender)(nil)

func NewSender() *Sender { return &Sender{} }

func (s *Sender) Check(rawURL string) error {
	if u, err := url.Parse(rawURL); err == nil && u.Hostname() == "refused.invalid" {
		return domain.Errorf(domain.KindInvalid, "url points to an address the gateway does not post to")
	}
	return nil
}

func (s *Sender) Post(_ context.Context, rawURL string, header map[string]string, body []byte) (int, error) {
	p := Post{URL: rawURL, Header: header, Body: slices.Clone(body)}
	s.mu.Lock()
	s.posts = append(s.posts, p)
	answer := s.answer
	s.mu.Unlock()
	if answer == nil {
		return 200, nil
	}
	return answer(p), nil
}

// SetAnswer sets the status code each later post is answered with.
func (s *Sender) SetAnswer(answer func(Post) int) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

// Posts returns what it received so far.
func (s *Sender) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}
