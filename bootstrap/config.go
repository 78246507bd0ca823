// Package bootstrap reads the configuration and wires the gateway together. It is the only
// package that knows every adapter.
package bootstrap

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/application"
)

// Config is the gateway's configuration, read from the environment.
type Config struct {
	Host        string // HOST: interface to listen on; "" for all
	Port        int    // PORT, default 3000
	DataDir     string // DATA_DIR, default ./data: the SQLite database and generated key
	DatabaseURL string // DATABASE_URL: postgres://...; unset for the embedded SQLite file
	// RedisURL (REDIS_URL: redis://host:port/db) is the Redis through which instances on
	// one PostgreSQL wake each other's event feeds; unset, an instance hears of the
	// others' events at its feed's poll only.
	RedisURL string
	// FeedPoll is how often the event feed reads the log without being woken,
	// application.DefaultFeedPoll when 0. Not read from the environment: tests set it
	// long to show that events came through Redis.
	FeedPoll    time.Duration
	LogLevel    slog.Level // LOG_LEVEL: debug, info, warn, error
	LogFormat   string     // LOG_FORMAT: auto (text on a terminal, else json), text or json
	CORSOrigins []string   // CORS_ORIGINS: comma-separated origins allowed from browsers
	// SocketIOMaxBuffered (SOCKETIO_MAX_BUFFERED) is how many events may wait for one slow
	// Socket.io connection before it is closed; 0 for the default.
	SocketIOMaxBuffered int
	// SocketIOMaxConnectionsPerKey (SOCKETIO_MAX_CONNECTIONS_PER_KEY) bounds the Socket.io
	// listeners of one API key; 0 for the default.
	SocketIOMaxConnectionsPerKey int
	// MediaMaxBytes (MEDIA_MAX_BYTES) bounds a media file sent, uploaded, fetched by URL or
	// downloaded from WhatsApp.
	MediaMaxBytes int64
	// MediaFetchAllow (MEDIA_FETCH_ALLOW) lists networks that media URLs may point to
	// although they are private (an internal file server, say).
	MediaFetchAllow []netip.Prefix
	// WebhookAllow (WEBHOOK_ALLOW) lists networks that webhook URLs may point to although
	// they are private (an internal receiver, say).
	WebhookAllow []netip.Prefix
	// WebhookRetryWindow (WEBHOOK_RETRY_WINDOW, default 24h) is how long after an event
	// its delivery to a webhook is retried before it becomes a dead letter.
	WebhookRetryWindow time.Duration
	// WhatsAppServerURL (WHATSAPP_SERVER_URL) and WhatsAppServerRootKey
	// (WHATSAPP_SERVER_ROOT_KEY) point every session at another WhatsApp server, such as
	// the wasim simulator, instead of WhatsApp. Both or neither.
	WhatsAppServerURL     string
	WhatsAppServerRootKey string
	// EventRetention (EVENT_RETENTION, default 168h) is how long the event log keeps an
	// event for resuming listeners and the REST feeds; MessageRetention
	// (MESSAGE_RETENTION, default 336h) how long messages are kept for the history,
	// replies and media downloads, and to recognise a message delivered again.
	EventRetention   time.Duration
	MessageRetention time.Duration
	// InstanceID (INSTANCE_ID) names this gateway among the instances sharing one
	// PostgreSQL database; default: the host name and port, so that a restart on the same
	// host finds its sessions' leases again at once.
	InstanceID string
	// InstanceURL (INSTANCE_URL) is where the other instances reach this one, to carry
	// to it the requests for the sessions it runs; default: http:// and the address it
	// listens on, with the host name when it listens on every interface.
	InstanceURL string
	// MetricsToken (METRICS_TOKEN) lets a scraper read /metrics as a bearer token,
	// without an API key; "" for none (then an admin key is needed).
	MetricsToken string

	// APIKey is the key callers must present; "" when none is configured (API_KEY set to
	// the empty string), in which case every authenticated call is refused. A configured
	// key has at least MinAPIKeyLength characters.
	APIKey string
	// apiKeySet is whether API_KEY is in the environment at all; when it is not, a key is
	// generated once and kept under DataDir.
	apiKeySet bool
}

// DefaultGOGC is the collector's target unless GOGC is set: below Go's 100, so that the
// heap's headroom between collections, most of a device's memory at rest after
// whatsmeow's own, stays small (10,000 devices: 1.40 GB instead of 1.54 GB, for the same
// idle CPU and restore time; BENCHMARKS.md, Devices per process).
const DefaultGOGC = 50

// TuneGC sets the collector's target to DefaultGOGC unless GOGC is set. Binaries that
// serve the gateway call it first.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
	}
}

// The retentions when EVENT_RETENTION and MESSAGE_RETENTION are not set (or a Config
// built in code leaves them zero).
const (
	DefaultEventRetention   = 7 * 24 * time.Hour
	DefaultMessageRetention = 14 * 24 * time.Hour
)

// Instance is this gateway among the instances: its ID (InstanceID, else host:port). On
// a port chosen by the system (0) it is made unique, since several gateways may share
// host and "port" then (tests run them in one process).
func (c Config) Instance() string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	host, _ := os.Hostname()
	if c.Port == 0 {
		return host + ":0-" + strings.ToLower(rand.Text()[:8])
	}
	return fmt.Sprintf("%s:%d", host, c.Port)
}

// MinAPIKeyLength is the length below which API_KEY is refused: a short key can be guessed
// by anyone who can reach the API.
const MinAPIKeyLength = 32

// LoadConfig reads the configuration from the environment through lookup (os.LookupEnv).
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		Host:         get("HOST", ""),
		DataDir:      get("DATA_DIR", "./data"),
		DatabaseURL:  get("DATABASE_URL", ""),
		RedisURL:     get("REDIS_URL", ""),
		LogFormat:    strings.ToLower(get("LOG_FORMAT", "auto")),
		MetricsToken: get("METRICS_TOKEN", ""),

		InstanceID:            get("INSTANCE_ID", ""),
		InstanceURL:           get("INSTANCE_URL", ""),
		WhatsAppServerURL:     get("WHATSAPP_SERVER_URL", ""),
		WhatsAppServerRootKey: get("WHATSAPP_SERVER_ROOT_KEY", ""),
	}
	cfg.APIKey, cfg.apiKeySet = lookup("API_KEY")
	for _, o := range strings.Split(get("CORS_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	var errs []error
	for _, o := range cfg.CORSOrigins {
		if !validOrigin(o) {
			errs = append(errs, fmt.Errorf("CORS_ORIGINS must list origins such as https://app.example.com (scheme and host, no path) or *, not %q", o))
		}
	}
	if n := utf8.RuneCountInString(cfg.APIKey); n > 0 && n < MinAPIKeyLength {
		errs = append(errs, fmt.Errorf("API_KEY must have at least %d characters, not %d: choose a long random key (openssl rand -hex 32 makes one), or unset API_KEY to have one generated", MinAPIKeyLength, n))
	}
	port, err := strconv.Atoi(get("PORT", "3000"))
	if err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a port number, not %q", get("PORT", "")))
	}
	cfg.Port = port
	if cfg.SocketIOMaxBuffered, err = strconv.Atoi(get("SOCKETIO_MAX_BUFFERED", "0")); err != nil || cfg.SocketIOMaxBuffered < 0 {
		errs = append(errs, fmt.Errorf("SOCKETIO_MAX_BUFFERED must be a positive number, not %q", get("SOCKETIO_MAX_BUFFERED", "")))
	}
	if cfg.SocketIOMaxConnectionsPerKey, err = strconv.Atoi(get("SOCKETIO_MAX_CONNECTIONS_PER_KEY", "0")); err != nil || cfg.SocketIOMaxConnectionsPerKey < 0 {
		errs = append(errs, fmt.Errorf("SOCKETIO_MAX_CONNECTIONS_PER_KEY must be a positive number, not %q", get("SOCKETIO_MAX_CONNECTIONS_PER_KEY", "")))
	}
	if cfg.MediaMaxBytes, err = strconv.ParseInt(get("MEDIA_MAX_BYTES", "67108864"), 10, 64); err != nil || cfg.MediaMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("MEDIA_MAX_BYTES must be a positive number of bytes, not %q", get("MEDIA_MAX_BYTES", "")))
	}
	for _, n := range []struct {
		name string
		into *[]netip.Prefix
	}{{"MEDIA_FETCH_ALLOW", &cfg.MediaFetchAllow}, {"WEBHOOK_ALLOW", &cfg.WebhookAllow}} {
		for _, p := range strings.Split(get(n.name, ""), ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s must list networks such as 10.0.0.0/8, not %q", n.name, p))
				continue
			}
			*n.into = append(*n.into, prefix)
		}
	}
	for _, r := range []struct {
		name, def string
		into      *time.Duration
	}{{"EVENT_RETENTION", DefaultEventRetention.String(), &cfg.EventRetention}, {"MESSAGE_RETENTION", DefaultMessageRetention.String(), &cfg.MessageRetention},
		{"WEBHOOK_RETRY_WINDOW", application.DefaultDeliveryTiming.Window.String(), &cfg.WebhookRetryWindow}} {
		if *r.into, err = time.ParseDuration(get(r.name, r.def)); err != nil || *r.into < time.Minute {
			errs = append(errs, fmt.Errorf("%s must be a duration of at least a minute, such as 168h, not %q", r.name, get(r.name, "")))
		}
	}
	if u, err := url.Parse(cfg.RedisURL); cfg.RedisURL != "" && (err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix")) {
		errs = append(errs, errors.New("REDIS_URL must be a Redis URL such as redis://127.0.0.1:6379/0 (or rediss:// for TLS), or unset"))
	}
	if (cfg.WhatsAppServerURL == "") != (cfg.WhatsAppServerRootKey == "") {
		errs = append(errs, errors.New("WHATSAPP_SERVER_URL and WHATSAPP_SERVER_ROOT_KEY go together: set both (to use a simulator) or neither"))
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", get("LOG_LEVEL", "")))
	}
	if cfg.LogFormat != "auto" && cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be auto, text or json, not %q", cfg.LogFormat))
	}
	if n := utf8.RuneCountInString(cfg.MetricsToken); n > 0 && n < MinAPIKeyLength {
		errs = append(errs, fmt.Errorf("METRICS_TOKEN must have at least %d characters, not %d (openssl rand -hex 32 makes one), or be unset", MinAPIKeyLength, n))
	}
	return cfg, errors.Join(errs...)
}

// validOrigin is whether o can match a browser's Origin header: "*", or a scheme and a
// host with no path. An entry such as app.example.com would silently never match.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// Addr is the address to listen on.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }

// Logger returns the logger the configuration asks for, writing to stderr.
func (c Config) Logger() *slog.Logger { return c.loggerTo(os.Stderr) }

// loggerTo is Logger writing to w. LOG_FORMAT auto writes text to a terminal, for a
// person, and JSON elsewhere, for the log collector that stderr then goes to.
func (c Config) loggerTo(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" || (c.LogFormat != "text" && !IsTerminal(w)) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// IsTerminal reports whether w is a terminal (TCGETS is what isatty(3) asks).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// APIKeyFile is where a generated API key is kept, under DataDir.
const APIKeyFile = "api-key"

// ResolveAPIKey settles the API key when API_KEY is not set: it reads the key kept under
// DataDir, or generates and keeps a new one. generated reports a new key, which the caller
// shows once.
func (c *Config) ResolveAPIKey() (generated bool, err error) {
	if c.apiKeySet {
		return false, nil
	}
	path := c.APIKeyPath()
	kept, err := readKeyFile(path)
	if err == nil {
		c.APIKey = kept
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return false, fmt.Errorf("create data directory: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.APIKey = "wag_" + base64.RawURLEncoding.EncodeToString(key)
	// O_EXCL: if another process created the file meanwhile, keep its key rather than ours.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return c.ResolveAPIKey()
	}
	if err != nil {
		return false, fmt.Errorf("keep API key: %w", err)
	}
	if _, err := f.WriteString(c.APIKey + "\n"); err != nil {
		f.Close()
		return false, fmt.Errorf("keep API key: %w", err)
	}
	return true, f.Close()
}

// readKeyFile reads the key kept at path; fs.ErrNotExist when there is none.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	} else if err != nil {
		return "", fmt.Errorf("read API key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("API key file %s is empty: delete it to generate a new key, or set API_KEY", path)
	}
	return key, nil
}

// ClientAPIKey is the key the command-line tools present to the running gateway: API_KEY
// when set, else the key the gateway generated under DataDir. It never generates one.
func (c Config) ClientAPIKey() (string, error) {
	if c.apiKeySet {
		if c.APIKey == "" {
			return "", errors.New("API_KEY is set to an empty string, so the gateway refuses every call: set it to the gateway's key")
		}
		return c.APIKey, nil
	}
	key, err := readKeyFile(c.APIKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no API key: set API_KEY, or run where the gateway keeps its generated key (%s not found; DATA_DIR is %s)", c.APIKeyPath(), c.DataDir)
	}
	return key, err
}

// DatabaseKind names the database the configuration selects, for the startup log line.
func (c Config) DatabaseKind() string {
	if c.DatabaseURL == "" {
		return "sqlite (" + c.DataDir + "/" + database.SQLiteFile + ")"
	}
	return "postgres"
}

// APIKeyPath is the file a generated key is kept in.
func (c Config) APIKeyPath() string { return filepath.Join(c.DataDir, APIKeyFile) }
