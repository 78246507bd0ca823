package wasim

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow/util/keys"
)

// Options configure a simulator. The zero value is usable.
type Options struct {
	// RootKey is the private root key the server certificate chain is
	// signed with; clients must trust its public half. Zero means a fresh
	// random key (Start uses TestRootKey instead).
	RootKey Key
	// Logger receives the simulator's logs; nil discards them.
	Logger *slog.Logger
	// StreamErrorGrace is how long the server waits, after sending a
	// stream error or login failure, before closing the connection itself.
	// whatsmeow handles the stanza asynchronously and only treats the
	// disconnect as expected once it has, so closing at once would race
	// with it. Default 1s.
	StreamErrorGrace time.Duration
	// PairTimeout bounds how long Scan and PairCode wait for the client's
	// answers. Default 30s.
	PairTimeout time.Duration
}

// Server is a WhatsApp server simulator. Its methods are safe for
// concurrent use.
type Server struct {
	opts      Options
	log       *slog.Logger
	root      Key
	rootPub   [32]byte
	static    *keys.KeyPair // the server's Noise static key
	certChain []byte
	media     *mediaStore // the media host's files; has its own lock

	baseCtx    context.Context
	cancelBase context.CancelFunc
	nextConnID atomic.Uint64
	nextStanza atomic.Uint64

	mu         sync.Mutex
	closed     bool
	url        string
	httpSrvs   []*http.Server
	conns      map[*conn]struct{}
	users      map[string]*user // by phone number
	usersByLID map[string]*user
	nextLID    uint64
	refs       map[string]*conn // QR refs of connections waiting to be paired
	linkCodes  map[string]*conn // phone -> connection that asked for a pairing code

	loggedIn      int
	pairedDevices int
	maxLogins     int

	// beforeFlushWrite, when set (by tests only), runs in flush after it
	// picked a batch and released mu, before writing it: the moment a
	// concurrent delivery could overtake the batch.
	beforeFlushWrite func()
}

// New creates a simulator. Serve it with Serve, or mount Handler on your own
// HTTP server.
func New(opts Options) (*Server, error) {
	if opts.RootKey.isZero() {
		k, err := NewKey()
		if err != nil {
			return nil, err
		}
		opts.RootKey = k
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.StreamErrorGrace <= 0 {
		opts.StreamErrorGrace = time.Second
	}
	if opts.PairTimeout <= 0 {
		opts.PairTimeout = 30 * time.Second
	}
	static := keys.NewKeyPair()
	chain, err := buildCertChain(opts.RootKey, *static.Pub)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:       opts,
		log:        opts.Logger,
		root:       opts.RootKey,
		rootPub:    opts.RootKey.Public(),
		static:     static,
		certChain:  chain,
		media:      newMediaStore(),
		baseCtx:    ctx,
		cancelBase: cancel,
		conns:      map[*conn]struct{}{},
		users:      map[string]*user{},
		usersByLID: map[string]*user{},
		nextLID:    100000000000000,
		refs:       map[string]*conn{},
		linkCodes:  map[string]*conn{},
	}, nil
}

// Handler serves the WhatsApp websocket at /ws/chat, the media host's
// upload (/mms/) and download (/v/) paths, and the control API under
// /control/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/chat", s.serveWebsocket)
	s.registerMedia(mux)
	s.registerControl(mux)
	return mux
}

// Listen opens a TCP listener on addr ("host:port", port 0 for any) and
// makes its URL the one Info reports. Pass the listener to Serve.
func (s *Server) Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.url == "" {
		s.url = websocketURL(l.Addr())
	}
	s.mu.Unlock()
	return l, nil
}

// Serve accepts connections on l until Close. It returns
// http.ErrServerClosed after Close.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return http.ErrServerClosed
	}
	if s.url == "" {
		s.url = websocketURL(l.Addr())
	}
	s.httpSrvs = append(s.httpSrvs, hs)
	s.mu.Unlock()
	return hs.Serve(l)
}

// websocketURL is the serverUrl clients are given. An unspecified listen
// host (0.0.0.0, ::) is reported as 127.0.0.1.
func websocketURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "ws://" + addr.String() + "/ws/chat"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "ws://" + net.JoinHostPort(host, port) + "/ws/chat"
}

// Close stops serving and closes every connection. Clients see a dropped
// connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srvs := s.httpSrvs
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var errs []error
	for _, hs := range srvs {
		errs = append(errs, hs.Close())
	}
	for _, c := range conns {
		c.closeNow()
	}
	s.cancelBase()
	return errors.Join(errs...)
}

// Info is what GET /control/info returns: all a client needs to connect.
type Info struct {
	// ServerURL is the websocket URL to dial instead of
	// wss://web.whatsapp.com/ws/chat.
	ServerURL string `json:"serverUrl"`
	// RootKey is the hex Curve25519 public key to install in
	// whatsmeow.WACertPubKey.
	RootKey string `json:"rootKey"`
}

// URL returns the websocket URL of the first listener passed to Serve, or ""
// before Serve.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// RootPublicKey returns the public root key clients must trust.
func (s *Server) RootPublicKey() [32]byte { return s.rootPub }

// Info returns the server URL and hex root public key.
func (s *Server) Info() Info {
	return Info{ServerURL: s.URL(), RootKey: hex.EncodeToString(s.rootPub[:])}
}

// Stats is a snapshot of the simulator's counters.
type Stats struct {
	// Connections is the number of open websocket connections, logged in
	// or not.
	Connections int `json:"connections"`
	// LoggedIn is the number of connections logged in as a linked device.
	LoggedIn int `json:"loggedIn"`
	// Accounts is the number of phone numbers that ever had a device linked.
	Accounts int `json:"accounts"`
	// PairedDevices is the number of currently linked devices.
	PairedDevices int `json:"pairedDevices"`
	// MaxConcurrentLoginsPerDevice is the highest number of connections
	// ever logged in at the same time as one device. Anything above 1 means
	// two clients used the same session at once (the second login kicks the
	// first with a stream-replaced error, as WhatsApp does, but both were
	// logged in until then).
	MaxConcurrentLoginsPerDevice int `json:"maxConcurrentLoginsPerDevice"`
	// PendingMessages is the number of messages linked devices have not
	// acknowledged yet, over all accounts (see Account).
	PendingMessages int `json:"pendingMessages"`
	// HeapInuseBytes and Goroutines describe the whole simulator process;
	// they are there to measure memory per connection.
	HeapInuseBytes  uint64 `json:"heapInuseBytes"`
	StackInuseBytes uint64 `json:"stackInuseBytes"`
	Goroutines      int    `json:"goroutines"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Connections:                  len(s.conns),
		LoggedIn:                     s.loggedIn,
		PairedDevices:                s.pairedDevices,
		MaxConcurrentLoginsPerDevice: s.maxLogins,
	}
	for _, u := range s.users {
		if u.isAccount {
			st.Accounts++
		}
		for _, d := range u.devices {
			st.PendingMessages += len(d.pending)
		}
	}
	s.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapInuseBytes = ms.HeapInuse
	st.StackInuseBytes = ms.StackInuse
	st.Goroutines = runtime.NumGoroutine()
	return st
}

// newStanzaID returns an id for a stanza the server originates.
func (s *Server) newStanzaID() string {
	return "wasim." + strconv.FormatUint(s.nextStanza.Add(1), 10)
}
