package bootstrap

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/wire"
	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/inbound/rest"
	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/fetch"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/adapters/outbound/metrics"
	"github.com/wagate/wagate/adapters/outbound/redis"
	"github.com/wagate/wagate/adapters/outbound/socketio"
	"github.com/wagate/wagate/adapters/outbound/whatsmeow"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/docs"
	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/domain/webhook"
)

// coreSet is the gateway without its outbound adapters.
var coreSet = wire.NewSet(application.New, provideInstance, providePoster, wire.Struct(new(application.WebhookPorts), "*"), provideRelay, provideClock, provideGuard, provideAdminKey, application.NewValidKeys, rest.New, provideRESTOptions, provideSocketIO, provideFetcher,
	wire.Bind(new(message.Fetcher), new(*fetch.Fetcher)), wire.Bind(new(rest.Authenticator), new(*apikey.Guard)), NewGateway,
	metrics.New, provideMetricsHandler, wire.Bind(new(application.Observer), new(*metrics.Metrics)))

// Build wires the gateway as the binary runs it. Records logged with the context of a
// REST request carry its id.
func Build(ctx context.Context, cfg Config, log *slog.Logger) (*Gateway, func(), error) {
	return build(ctx, cfg, slog.New(rest.LogRequestIDs(log.Handler())))
}

// BuildInMemory wires the gateway with every outbound adapter in memory, logging as
// Build does.
func BuildInMemory(cfg Config, log *slog.Logger) (*InMemory, error) {
	return buildInMemory(cfg, slog.New(rest.LogRequestIDs(log.Handler())))
}

// metricsHandler serves /metrics.
type metricsHandler http.Handler

// provideMetricsHandler has the metrics read, at each scrape, the devices by status, the
// event feed's lag and the database pool (nil without a database).
func provideMetricsHandler(m *metrics.Metrics, app application.App, pool *sql.DB) metricsHandler {
	m.Watch(metrics.Sources{Devices: app.Queries.CountDevices.Handle, Feed: app.Commands.Feed.Position, DB: pool})
	return m.Handler()
}

// databaseSet stores devices in SQLite or PostgreSQL, which instances share, with the
// Redis (when configured) through which they wake each other.
var databaseSet = wire.NewSet(
	provideDatabase, database.NewStore, wire.FieldsOf(new(database.Store), "Devices", "Messages", "Events"), database.NewKeys, database.NewLeases,
	wire.Bind(new(cluster.Leases), new(*database.Leases)),
	wire.Bind(new(device.Repository), new(*database.Devices)),
	wire.Bind(new(device.Messages), new(*database.Messages)),
	wire.Bind(new(device.EventLog), new(*database.Events)),
	wire.Bind(new(key.Repository), new(*database.Keys)),
	wire.Bind(new(rest.Pinger), new(*database.Devices)),
	database.NewWebhooks, provideDeliveries,
	wire.Bind(new(webhook.Repository), new(*database.Webhooks)),
	wire.Bind(new(webhook.Deliveries), new(*database.Deliveries)),
	provideRedis, provideDBPool,
)

// provideDBPool is the database's connection pool, whose use the metrics show.
func provideDBPool(db *bun.DB) *sql.DB { return db.DB }

// memoryStoreSet keeps devices in memory, for one instance: without Redis.
var memoryStoreSet = wire.NewSet(
	memory.NewStore, wire.FieldsOf(new(memory.Store), "Devices", "Messages", "Log"), memory.NewKeys, memory.NewLeases, noRedis, noDBPool,
	wire.Bind(new(cluster.Leases), new(*memory.Leases)),
	wire.Bind(new(device.Repository), new(*memory.Repository)),
	wire.Bind(new(device.Messages), new(*memory.Messages)),
	wire.Bind(new(device.EventLog), new(*memory.Log)),
	wire.Bind(new(key.Repository), new(*memory.Keys)),
	wire.Bind(new(rest.Pinger), new(*memory.Repository)),
	memory.NewWebhooks, provideMemoryDeliveries,
	wire.Bind(new(webhook.Repository), new(*memory.Webhooks)),
	wire.Bind(new(webhook.Deliveries), new(*memory.Deliveries)),
)

// noDBPool is the absence of a database connection pool, with devices in memory.
func noDBPool() *sql.DB { return nil }

// whatsAppSet runs WhatsApp sessions through whatsmeow, stored in the gateway's database.
var whatsAppSet = wire.NewSet(
	provideWhatsApp,
	wire.Bind(new(device.WhatsAppClient), new(*whatsmeow.Client)),
	wire.Bind(new(Sessions), new(*whatsmeow.Client)),
)

// memoryWhatsAppSet stands in for WhatsApp.
var memoryWhatsAppSet = wire.NewSet(
	memory.NewWhatsApp,
	wire.Bind(new(device.WhatsAppClient), new(*memory.WhatsApp)),
	wire.Bind(new(Sessions), new(*memory.WhatsApp)),
)

// recordingPublisherSet publishes to Socket.io and records every event, for tests.
var recordingPublisherSet = wire.NewSet(memory.NewPublisher, provideRecordingPublisher)

func provideClock() application.Clock { return time.Now }

func provideInstance(cfg Config) application.Instance {
	delivery := application.DefaultDeliveryTiming
	delivery.Window = cmp.Or(cfg.WebhookRetryWindow, delivery.Window)
	return application.Instance{ID: cfg.Instance(), Timing: application.DefaultLeaseTiming, Delivery: delivery}
}

// providePoster posts webhook deliveries, to the networks WEBHOOK_ALLOW lists besides
// public addresses.
func providePoster(cfg Config) webhook.Sender { return fetch.NewPoster(cfg.WebhookAllow) }

func provideDeliveries(w *database.Webhooks) *database.Deliveries { return w.Deliveries() }

func provideMemoryDeliveries(w *memory.Webhooks) *memory.Deliveries { return w.Deliveries() }

func provideSocketIO(cfg Config, keys *apikey.Guard, valid application.ValidKeysHandler, devices device.Repository, events device.EventLog, m *metrics.Metrics, log *slog.Logger) *socketio.Gateway {
	return socketio.New(keys, valid, devices, events, log, socketio.Options{CORSOrigins: cfg.CORSOrigins, MaxBuffered: cfg.SocketIOMaxBuffered,
		MaxConnectionsPerKey: cfg.SocketIOMaxConnectionsPerKey, Observer: m})
}

func provideRecordingPublisher(sockets *socketio.Gateway, rec *memory.Publisher) device.EventPublisher {
	return fanout{sockets, rec}
}

// fanout publishes each event to several publishers, in order.
type fanout []device.EventPublisher

func (f fanout) Publish(ctx context.Context, r device.Record) error {
	var errs []error
	for _, p := range f {
		errs = append(errs, p.Publish(ctx, r))
	}
	return errors.Join(errs...)
}

func provideRESTOptions(cfg Config, stream *redis.Stream, m *metrics.Metrics, scrape metricsHandler) rest.Options {
	o := rest.Options{MaxMediaBytes: cfg.MediaMaxBytes, Observer: m, Metrics: scrape, MetricsToken: cfg.MetricsToken, SocketIOContract: docs.SocketIO}
	if stream != nil {
		o.Dependencies = append(o.Dependencies, rest.Dependency{Name: "Redis", Pinger: stream})
	}
	return o
}

// provideRedis connects to the Redis of REDIS_URL, if set (nil otherwise), that carries
// between instances the news that events were committed.
func provideRedis(cfg Config, m *metrics.Metrics, log *slog.Logger) (*redis.Stream, func(), error) {
	if cfg.RedisURL == "" {
		return nil, func() {}, nil
	}
	s, err := redis.New(cfg.RedisURL, log, redis.Options{Observer: m})
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		if err := s.Close(); err != nil {
			log.Warn("close Redis", "err", err)
		}
	}, nil
}

// noRedis is the absence of Redis, where nothing else shares the store.
func noRedis() *redis.Stream { return nil }

// provideRelay is the Redis stream as the feed's relay: none without Redis (and not a
// nil *redis.Stream, which the feed would take for one).
func provideRelay(stream *redis.Stream) application.Relay {
	if stream == nil {
		return nil
	}
	return stream
}

func provideFetcher(cfg Config) *fetch.Fetcher {
	return fetch.New(fetch.Options{MaxBytes: cfg.MediaMaxBytes, Allow: cfg.MediaFetchAllow})
}

func provideGuard(keys key.Repository, admin application.AdminKey, clock application.Clock, log *slog.Logger) *apikey.Guard {
	return apikey.New(application.NewAuthenticate(keys, admin, clock), log, apikey.Options{})
}

func provideAdminKey(cfg Config) application.AdminKey { return application.AdminKey(cfg.APIKey) }

// provideWhatsApp starts the whatsmeow adapter; its cleanup ends every session without
// changing the devices, so that the next start restores them.
func provideWhatsApp(ctx context.Context, db *bun.DB, msgs device.Messages, cfg Config, m *metrics.Metrics, log *slog.Logger) (*whatsmeow.Client, func(), error) {
	c, err := whatsmeow.New(ctx, db, database.Exclusively, msgs, whatsmeow.Config{
		ServerURL: cfg.WhatsAppServerURL, RootKey: cfg.WhatsAppServerRootKey, MediaMaxBytes: cfg.MediaMaxBytes, Observer: m,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	return c, func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			log.Warn("close WhatsApp sessions", "err", err)
		}
	}, nil
}

// provideDatabase opens the configured database and brings its schema up to date.
func provideDatabase(ctx context.Context, cfg Config, log *slog.Logger) (*bun.DB, func(), error) {
	db, closeDB, applied, err := openMigrated(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", applied)
	}
	return db, func() {
		if err := closeDB(); err != nil {
			log.Warn("close database", "err", err)
		}
	}, nil
}

// Migrate brings the configured database's schema up to date and closes it: the work of
// "wagate migrate", without starting the gateway.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	_, closeDB, applied, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("database up to date", "applied", len(applied), "migrations", applied)
	return closeDB()
}

// openMigrated opens the configured database and applies the migrations it lacks,
// returning their names.
func openMigrated(ctx context.Context, cfg Config) (*bun.DB, func() error, []string, error) {
	db, closeDB, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	applied, err := database.Migrate(ctx, db)
	if err != nil {
		return nil, nil, nil, errors.Join(err, closeDB())
	}
	return db, closeDB, applied, nil
}

// InMemory is a gateway whose outbound adapters all live in memory, for tests that drive
// it from outside: they script WhatsApp and read the events published.
type InMemory struct {
	*Gateway
	WhatsApp *memory.WhatsApp
	Events   *memory.Publisher
	Devices  *memory.Repository
}
