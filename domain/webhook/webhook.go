// Package webhook is how events reach applications that do not listen: each webhook is a
// URL that gets a signed POST for every event it wants, delivered from the event log
// with a cursor of its own, so that nothing is lost across restarts or while the
// receiver is down.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// MaxURLLength is the longest webhook URL accepted.
const MaxURLLength = 2048

// MaxDevices is how many devices one webhook may be limited to.
const MaxDevices = 1000

// Secret lengths: generated secrets are SecretPrefix and 32 random bytes; given ones
// must be long enough to be worth signing with.
const (
	SecretPrefix    = "whsec_"
	MinSecretLength = 16
	MaxSecretLength = 256
)

// ID identifies a webhook; it is not secret.
type ID string

func (id ID) String() string { return string(id) }

const idBytes = 8

var errInvalidID = domain.Errorf(domain.KindInvalid, "webhook id must look like wh_0123456789abcdef")

// ParseID validates a webhook id given by a caller.
func ParseID(s string) (ID, error) {
	if len(s) != 3+idBytes*2 || !strings.HasPrefix(s, "wh_") {
		return "", errInvalidID
	}
	if _, err := hex.DecodeString(s[3:]); err != nil || strings.ToLower(s) != s {
		return "", errInvalidID
	}
	return ID(s), nil
}

// NotFound is the error repositories return for a webhook they do not have.
func NotFound(id ID) error {
	return domain.Errorf(domain.KindNotFound, "webhook %s not found", id)
}

// Webhook is a receiver of events.
type Webhook struct {
	id        ID
	url       string
	events    []string    // sorted; empty: every event
	devices   []device.ID // sorted; empty: every device
	secret    string
	enabled   bool
	createdAt time.Time
	updatedAt time.Time
	// cursor is the id of the last event of the log it is done with: delivered,
	// dead-lettered, or not wanted.
	cursor device.EventID
}

// Snapshot is the whole state of a webhook as plain values, for adapters.
type Snapshot struct {
	ID                   ID
	URL                  string
	Events               []string
	Devices              []device.ID
	Secret               string
	Enabled              bool
	CreatedAt, UpdatedAt time.Time
	Cursor               device.EventID
}

// Settings are what a caller sets on a webhook. Nil fields are left as they are (on
// creation: every event, every device, a generated secret, enabled).
type Settings struct {
	URL     *string
	Events  *[]string
	Devices *[]device.ID
	Secret  *string
	Enabled *bool
}

// New creates a webhook that starts with the events committed after cursor (the end of
// the log when it is created).
func New(s Settings, cursor device.EventID, now time.Time) (*Webhook, error) {
	if s.URL == nil {
		return nil, domain.Errorf(domain.KindInvalid, "url is required")
	}
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	now = now.UTC().Truncate(time.Microsecond)
	w := &Webhook{id: ID("wh_" + hex.EncodeToString(b[:])), enabled: true, createdAt: now, cursor: cursor}
	if s.Secret == nil {
		var sb [32]byte
		_, _ = rand.Read(sb[:])
		secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(sb[:])
		s.Secret = &secret
	}
	if err := w.Change(s, now); err != nil {
		return nil, err
	}
	return w, nil
}

// Change applies the settings given; on error the webhook is unchanged.
func (w *Webhook) Change(s Settings, now time.Time) error {
	next := *w
	if s.URL != nil {
		u, err := ParseURL(*s.URL)
		if err != nil {
			return err
		}
		next.url = u.String()
	}
	if s.Events != nil {
		events := slices.Clone(*s.Events)
		for _, e := range events {
			if !slices.Contains(device.EventNames, e) {
				return domain.Errorf(domain.KindInvalid, "events: %q is not an event; the events are %s", e, strings.Join(device.EventNames, ", "))
			}
		}
		slices.Sort(events)
		next.events = slices.Compact(events)
	}
	if s.Devices != nil {
		if len(*s.Devices) > MaxDevices {
			return domain.Errorf(domain.KindInvalid, "a webhook may be limited to at most %d devices", MaxDevices)
		}
		devices := slices.Clone(*s.Devices)
		slices.Sort(devices)
		next.devices = slices.Compact(devices)
	}
	if s.Secret != nil {
		if n := len(*s.Secret); n < MinSecretLength || n > MaxSecretLength {
			return domain.Errorf(domain.KindInvalid, "secret must be %d to %d characters", MinSecretLength, MaxSecretLength)
		}
		next.secret = *s.Secret
	}
	if s.Enabled != nil {
		next.enabled = *s.Enabled
	}
	next.updatedAt = now.UTC().Truncate(time.Microsecond)
	*w = next
	return nil
}

// ParseURL checks a webhook URL: absolute http or https, with a host, no fragment.
// Whether its address may be reached is the sender's to check.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case len(s) > MaxURLLength:
		return nil, domain.Errorf(domain.KindInvalid, "url must be at most %d characters", MaxURLLength)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
		return nil, domain.Errorf(domain.KindInvalid, "url must be an absolute http or https URL")
	case u.Fragment != "":
		return nil, domain.Errorf(domain.KindInvalid, "url must not have a fragment")
	}
	return u, nil
}

// Rehydrate rebuilds a webhook from stored state. For adapters only: it skips validation.
func Rehydrate(s Snapshot) *Webhook {
	return &Webhook{id: s.ID, url: s.URL, events: slices.Clone(s.Events), devices: slices.Clone(s.Devices), secret: s.Secret,
		enabled: s.Enabled, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, cursor: s.Cursor}
}

// Snapshot returns the webhook's state as plain values.
func (w *Webhook) Snapshot() Snapshot {
	return Snapshot{ID: w.id, URL: w.url, Events: slices.Clone(w.events), Devices: slices.Clone(w.devices), Secret: w.secret,
		Enabled: w.enabled, CreatedAt: w.createdAt, UpdatedAt: w.updatedAt, Cursor: w.cursor}
}

func (w *Webhook) ID() ID                 { return w.id }
func (w *Webhook) URL() string            { return w.url }
func (w *Webhook) Enabled() bool          { return w.enabled }
func (w *Webhook) Cursor() device.EventID { return w.cursor }

// Devices are the devices whose events it gets; nil: every device.
func (w *Webhook) Devices() []device.ID { return slices.Clone(w.devices) }

// Wants tells whether the webhook gets the event.
func (w *Webhook) Wants(r device.Record) bool {
	return (len(w.events) == 0 || slices.Contains(w.events, r.Name)) &&
		(len(w.devices) == 0 || slices.Contains(w.devices, r.DeviceID))
}

// Sign returns the signature header's value for a body sent at timestamp: the hex
// HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret, so that receivers can
// reject forgeries, and replays by the timestamp.
func (w *Webhook) Sign(timestamp time.Time, body []byte) string {
	return Signature(w.secret, timestamp, body)
}

// Signature is Sign with a given secret.
func Signature(secret string, timestamp time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
