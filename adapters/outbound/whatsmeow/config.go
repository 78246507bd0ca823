package whatsmeow

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/socket"

	"github.com/wagate/wagate/domain/device"
)

// Config tunes the adapter. The zero value talks to WhatsApp with the default timings.
type Config struct {
	// ServerURL (WHATSAPP_SERVER_URL) sends every websocket and media request to another
	// server, such as the wasim simulator (ws://host:port/ws/chat), instead of WhatsApp.
	// RootKey (WHATSAPP_SERVER_ROOT_KEY) is then that server's hex public root key, which
	// replaces WhatsApp's in this whole process. Both empty: real WhatsApp.
	ServerURL string
	RootKey   string

	// QRFirstTimeout is how long the first QR code of a pairing is shown, QRNextTimeout
	// each following one (WhatsApp sends six). After the last one the session stops with
	// qr_timeout. Defaults: 60 s and 20 s, as WhatsApp's own clients.
	QRFirstTimeout time.Duration
	QRNextTimeout  time.Duration

	// ReconnectMin and ReconnectMax bound the delay before reconnecting after a dropped
	// connection: it doubles from ReconnectMin with each failed attempt up to ReconnectMax,
	// and a random half of it is dropped (jitter). Defaults: 1 s and 2 min.
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// MediaMaxBytes (MEDIA_MAX_BYTES) bounds a media file downloaded from WhatsApp: a
	// larger one is refused, whatever size its message declares (default 64 MiB).
	MediaMaxBytes int64

	// LibraryLogLevel is the lowest level of whatsmeow's own log lines that reach the
	// logger: "debug", "info", "warn" or "error" (default "warn": whatsmeow is chatty).
	LibraryLogLevel string

	// Observer is told what the sessions do (metrics); nil: nobody.
	Observer Observer
}

// Observer is told what the sessions do that an operator watches (metrics). It is called
// from whatsmeow's event handlers and the sessions' goroutines: it must return at once.
type Observer interface {
	// SessionConnected: a session logged in and is connected.
	SessionConnected()
	// SessionDisconnected: a session's connection ended, for reason; it may reconnect.
	SessionDisconnected(reason device.Reason)
	// ReconnectAttempt: a session is about to connect again after a failure or a drop.
	ReconnectAttempt()
	// MessageReceived: a message from WhatsApp was stored, took after it was decrypted.
	MessageReceived(took time.Duration)
}

type noObserver struct{}

func (noObserver) SessionConnected()                 {}
func (noObserver) SessionDisconnected(device.Reason) {}
func (noObserver) ReconnectAttempt()                 {}
func (noObserver) MessageReceived(time.Duration)     {}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.QRFirstTimeout, 60*time.Second)
	def(&c.QRNextTimeout, 20*time.Second)
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 2*time.Minute)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.MediaMaxBytes <= 0 {
		c.MediaMaxBytes = 64 << 20
	}
	if c.LibraryLogLevel == "" {
		c.LibraryLogLevel = "warn"
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}

func (c Config) libraryLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LibraryLogLevel)); err != nil {
		return 0, fmt.Errorf("whatsmeow log level: %w", err)
	}
	return l, nil
}

// serverClient returns the http.Client that sends whatsmeow's requests to cfg.ServerURL,
// or nil for WhatsApp itself.
func (c Config) serverClient() (*http.Client, error) {
	if c.ServerURL == "" && c.RootKey == "" {
		return nil, nil
	}
	if c.ServerURL == "" || c.RootKey == "" {
		return nil, errors.New("WHATSAPP_SERVER_URL and WHATSAPP_SERVER_ROOT_KEY must be set together")
	}
	rt, err := redirectTransport(c.ServerURL)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

// redirectTransport sends whatsmeow's websocket upgrade request (GET
// https://web.whatsapp.com/ws/chat: the websocket library turns wss:// into https://) to
// serverURL, and every other request (media) to serverURL's host with its own path.
func redirectTransport(serverURL string) (http.RoundTripper, error) {
	target, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("WHATSAPP_SERVER_URL: %w", err)
	}
	switch target.Scheme {
	case "ws", "http":
		target.Scheme = "http"
	case "wss", "https":
		target.Scheme = "https"
	default:
		return nil, fmt.Errorf("WHATSAPP_SERVER_URL %q: the scheme must be ws, wss, http or https", serverURL)
	}
	if target.Host == "" {
		return nil, fmt.Errorf("WHATSAPP_SERVER_URL %q has no host", serverURL)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil
	ws, _ := url.Parse(socket.URL)
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		u := *req.URL
		if u.Host == ws.Host && u.Path == ws.Path {
			u.Path = target.Path
		}
		u.Scheme, u.Host = target.Scheme, target.Host
		req.URL, req.Host = &u, ""
		return base.RoundTrip(req)
	}), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var (
	rootKeyMu  sync.Mutex
	rootKeySet bool
	rootKey    [32]byte
)

// installRootKey makes whatsmeow trust hexKey instead of WhatsApp's root key. It is a
// package variable of whatsmeow, read by every handshake: it is written at most once per
// process (before the first client connects), and a different key later is refused.
func installRootKey(hexKey string) error {
	raw, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil || len(raw) != 32 {
		return errors.New("WHATSAPP_SERVER_ROOT_KEY must be 64 hex characters (a Curve25519 public key)")
	}
	key := [32]byte(raw)
	rootKeyMu.Lock()
	defer rootKeyMu.Unlock()
	if rootKeySet && rootKey != key {
		return errors.New("another WHATSAPP_SERVER_ROOT_KEY is already installed in this process")
	}
	// Someone else (a test's simulator) may have installed it already: writing it again
	// would race with handshakes in progress.
	if meow.WACertPubKey != key {
		meow.WACertPubKey = key
	}
	rootKeySet, rootKey = true, key
	return nil
}
