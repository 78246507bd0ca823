package wasim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/socket"
)

// Start runs a simulator on a random loopback port for the duration of a
// test and makes this process's whatsmeow clients trust it. It uses
// TestRootKey unless opts sets another root key (all simulators in one
// process must share one root: see TrustRootKey).
func Start(tb testing.TB, opts ...Options) *Server {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.RootKey.isZero() {
		o.RootKey = TestRootKey
	}
	srv, err := New(o)
	if err != nil {
		tb.Fatalf("wasim: %v", err)
	}
	if err := TrustRootKey(srv.RootPublicKey()); err != nil {
		tb.Fatalf("wasim: %v", err)
	}
	l, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("wasim: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	tb.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return srv
}

var (
	trustMu   sync.Mutex
	trusted   bool
	trustedPK [32]byte
)

// TrustRootKey installs pub as whatsmeow.WACertPubKey, the root every
// client of this process verifies server certificates against. It is a
// package variable, so there is one root per process: TrustRootKey refuses
// to change it once set, and must be called before any client connects
// (writing it while a handshake reads it would be a data race). Calling it
// again with the same key is a no-op.
//
// For tests: the gateway does the equivalent from WHATSAPP_SERVER_ROOT_KEY.
func TrustRootKey(pub [32]byte) error {
	trustMu.Lock()
	defer trustMu.Unlock()
	if trusted {
		if pub != trustedPK {
			return errors.New("another root key is already installed in whatsmeow.WACertPubKey; simulators in one process must share a root key (use TestRootKey)")
		}
		return nil
	}
	whatsmeow.WACertPubKey = pub
	trusted, trustedPK = true, pub
	return nil
}

// ConfigureClient points a whatsmeow client at the simulator at serverURL
// (Info.ServerURL): its websocket dials, before and after login, go to
// serverURL instead of wss://web.whatsapp.com/ws/chat, and its media
// requests (uploads and downloads on https://mmg.whatsapp.net, the
// MediaHost the simulator's media_conn answer names) go to the simulator's
// host, which serves them. Call it before Connect. The root key must be
// trusted separately (TrustRootKey).
//
// For tests: the gateway has its own copy of this redirect.
func ConfigureClient(cli *whatsmeow.Client, serverURL string) error {
	rt, err := NewRedirectTransport(serverURL, nil)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: rt}
	cli.SetPreLoginHTTPClient(hc)
	cli.SetWebsocketHTTPClient(hc)
	cli.SetMediaHTTPClient(hc)
	return nil
}

// NewRedirectTransport returns a RoundTripper that sends whatsmeow's
// websocket upgrade request (GET https://web.whatsapp.com/ws/chat; the
// websocket library turns wss:// into https:// before calling the
// http.Client) to serverURL, and every other request to serverURL's host
// with its path kept. base is the transport that does the work (nil: a
// clone of http.DefaultTransport without proxy).
func NewRedirectTransport(serverURL string, base http.RoundTripper) (http.RoundTripper, error) {
	target, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	switch target.Scheme {
	case "ws", "http":
		target.Scheme = "http"
	case "wss", "https":
		target.Scheme = "https"
	default:
		return nil, fmt.Errorf("server URL %q: scheme must be ws, wss, http or https", serverURL)
	}
	if target.Host == "" {
		return nil, fmt.Errorf("server URL %q has no host", serverURL)
	}
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		base = t
	}
	wsURL, _ := url.Parse(socket.URL)
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		u := *req.URL
		if u.Host == wsURL.Host && u.Path == wsURL.Path {
			u.Path = target.Path
		}
		u.Scheme, u.Host = target.Scheme, target.Host
		req.URL = &u
		req.Host = ""
		return base.RoundTrip(req)
	}), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
