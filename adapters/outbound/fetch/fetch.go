// Package fetch makes the HTTP requests that go to URLs API users give: it downloads
// media files and posts webhook deliveries, guarded against
// server-side request forgery: it never connects to loopback, private, link-local,
// cloud-metadata or otherwise special addresses, checking the address actually dialed
// (so DNS tricks do not help) on the first request and on every redirect.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"syscall"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/message"
)

// Options tunes a Fetcher.
type Options struct {
	MaxBytes int64          // largest file accepted; DefaultMaxBytes when 0
	Timeout  time.Duration  // for the whole download; 60 s when 0
	Allow    []netip.Prefix // networks reachable although special (an internal CDN, say)
}

// DefaultMaxBytes is the largest file fetched unless configured otherwise.
const DefaultMaxBytes = 64 << 20

// Fetcher implements message.Fetcher.
type Fetcher struct {
	client   *http.Client
	maxBytes int64
}

var _ message.Fetcher = (*Fetcher)(nil)

func New(o Options) *Fetcher {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	return &Fetcher{client: guard(o.Allow).client(o.Timeout), maxBytes: o.MaxBytes}
}

var (
	errRefused          = errors.New("address not allowed") // a destination the guard refused
	errTooManyRedirects = errors.New("too many redirects")
)

// guard is the networks reachable although special; every other special address is
// refused.
type guard []netip.Prefix

// client is an HTTP client that dials only what the guard allows, on every request and
// redirect, through no proxy.
func (g guard) client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: g.control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, past the guard
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			MaxIdleConns:          10,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errTooManyRedirects
			}
			return checkScheme(req.URL)
		},
	}
}

// control runs for every connection, after name resolution, with the address to dial.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errRefused, address)
	}
	if ip := ap.Addr().Unmap(); !g.allowed(ip) {
		return fmt.Errorf("%w: %s", errRefused, ip)
	}
	return nil
}

func (g guard) allowed(ip netip.Addr) bool {
	for _, p := range g {
		if p.Contains(ip) {
			return true
		}
	}
	return public(ip)
}

// special lists ranges that are not on the public internet, beyond what netip's
// predicates cover.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: could reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds IPv4 addresses
}

// public reports whether ip is an ordinary public unicast address. Cloud metadata
// services (169.254.169.254, fd00:ec2::254) are link-local or private, so refused.
func public(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range special {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", errRefused, u.Scheme)
	}
	return nil
}

// Fetch downloads the file at rawURL.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (message.File, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return message.File{}, invalid("media URL %q is not an absolute http(s) URL", rawURL)
	}
	if err := checkScheme(u); err != nil {
		return message.File{}, invalid("media URL must be http or https")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return message.File{}, invalid("media URL %q: %v", rawURL, err)
	}
	res, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, errRefused) {
			return message.File{}, invalid("media URL points to an address the gateway does not fetch from (private, loopback or internal)")
		}
		return message.File{}, domain.Errorf(domain.KindInvalid, "media URL could not be fetched: %s", describe(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return message.File{}, invalid("media URL answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	if res.ContentLength > f.maxBytes {
		return message.File{}, invalid("media file is larger than %d bytes", f.maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, f.maxBytes+1))
	if err != nil {
		return message.File{}, invalid("media URL could not be read: %s", describe(err))
	}
	if int64(len(data)) > f.maxBytes {
		return message.File{}, invalid("media file is larger than %d bytes", f.maxBytes)
	}
	if len(data) == 0 {
		return message.File{}, invalid("media URL returned an empty file")
	}
	return message.File{Data: data, MimeType: mimeType(res, data), FileName: fileName(res)}, nil
}

func mimeType(res *http.Response, data []byte) string {
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err == nil && mt != "application/octet-stream" {
		return mt
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	return mt
}

func fileName(res *http.Response) string {
	if _, params, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return path.Base(params["filename"])
	}
	if name := path.Base(res.Request.URL.Path); name != "/" && name != "." {
		return name
	}
	return ""
}

// describe says what went wrong without the Go error's internals.
func describe(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "host not found"
	case errors.Is(err, errTooManyRedirects):
		return "too many redirects"
	}
	return "connection failed"
}

func invalid(format string, args ...any) error {
	return domain.Errorf(domain.KindInvalid, format, args...)
}
