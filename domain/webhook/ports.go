package webhook

import (
	"context"
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Repository stores webhooks, their cursors, and which instance delivers each.
type Repository interface {
	Create(ctx context.Context, w *Webhook) error
	// Get returns the webhook; domain.KindNotFound when there is none.
	Get(ctx context.Context, id ID) (*Webhook, error)
	// List returns every webhook, oldest first.
	List(ctx context.Context) ([]*Webhook, error)
	// Update changes a webhook with fn, atomically, and returns it as stored.
	Update(ctx context.Context, id ID, fn func(*Webhook) error) (*Webhook, error)
	// Delete removes a webhook and its deliveries; domain.KindNotFound when there is none.
	Delete(ctx context.Context, id ID) error
	// Claim makes owner the one instance that delivers the webhook, until expires,
	// unless another instance holds it unexpired. It reports whether owner holds it.
	Claim(ctx context.Context, id ID, owner string, now, expires time.Time) (bool, error)
	// Advance moves the webhook's cursor to cursor, if owner still holds it; it
	// reports whether it did.
	Advance(ctx context.Context, id ID, owner string, cursor device.EventID) (bool, error)
}

// Deliveries keeps the attempts to deliver events to webhooks.
type Deliveries interface {
	// Add records an attempt.
	Add(ctx context.Context, d Delivery) error
	// List returns the webhook's most recent attempts, newest first, at most limit.
	List(ctx context.Context, id ID, limit int) ([]Delivery, error)
	// Requeue marks the webhook's dead letters Requeued and reports how many.
	Requeue(ctx context.Context, id ID) (int, error)
	// Requeued returns the webhook's requeued dead letters, oldest event first.
	Requeued(ctx context.Context, id ID, limit int) ([]Delivery, error)
	// MarkRetried marks a requeued dead letter Retried.
	MarkRetried(ctx context.Context, delivery int64) error
	// Prune deletes up to limit attempts made before before, and reports how many.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}

// Sender posts to webhook URLs, guarded against server-side request forgery: it never
// connects to loopback, private or internal addresses unless they are allowed.
type Sender interface {
	// Check refuses, with domain.KindInvalid, a malformed URL (ParseURL) or one whose host
	// is an address the sender never posts to (a literal one, such as 127.0.0.1; names
	// are checked when dialed).
	Check(rawURL string) error
	// Post sends body with header to rawURL and returns the receiver's status code.
	Post(ctx context.Context, rawURL string, header map[string]string, body []byte) (int, error)
}
