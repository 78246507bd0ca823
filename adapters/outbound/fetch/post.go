package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/wagate/wagate/domain/webhook"
)

// Poster implements webhook.Sender: it posts deliveries with the same guard as the
// Fetcher, allowing its own networks (WEBHOOK_ALLOW).
type Poster struct {
	client *http.Client
	guard  guard
}

var _ webhook.Sender = (*Poster)(nil)

// PostTimeout bounds one delivery, from dialing to the end of the receiver's answer.
const PostTimeout = 30 * time.Second

// maxAnswer is how much of a receiver's answer is read (and thrown away), so that its
// connection can be used again.
const maxAnswer = 64 << 10

func NewPoster(allow []netip.Prefix) *Poster {
	g := guard(allow)
	return &Poster{client: g.client(PostTimeout), guard: g}
}

// Check refuses a URL whose host is a literal address the guard refuses, or localhost;
// names are checked when they are dialed.
func (p *Poster) Check(rawURL string) error {
	u, err := webhook.ParseURL(rawURL)
	if err != nil {
		return err
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	ip, err := netip.ParseAddr(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || (err == nil && !p.guard.allowed(ip.Unmap())) {
		return invalid("url points to an address the gateway does not post to (loopback, private or internal); WEBHOOK_ALLOW lists exceptions")
	}
	return nil
}

func (p *Poster) Post(ctx context.Context, rawURL string, header map[string]string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, invalid("webhook URL: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "wagate-webhook")
	res, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, errRefused) {
			return 0, errors.New("the webhook's address is one the gateway does not post to (loopback, private or internal)")
		}
		return 0, errors.New(describe(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	res.Body.Close()
	return res.StatusCode, nil
}
