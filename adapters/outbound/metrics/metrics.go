// Package metrics keeps the gateway's Prometheus metrics. One Metrics owns the registry
// and implements the small observer interfaces that the other packages declare where
// they report (REST, Socket.io, WhatsApp sessions, Redis, the use cases); bootstrap
// hands it to each. What is cheaper to read than to track (devices by status, the event
// log's lag, the database pool) is read when Prometheus scrapes.
//
// The observers run on hot paths: the label values they can take are known in advance,
// so their series are resolved once, and an event costs an atomic add.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
)

const namespace = "wagate"

// disconnectReasons are the reasons a session's connection ends with, resolved in advance.
var disconnectReasons = []device.Reason{
	device.ReasonStopped, device.ReasonConnectionLost, device.ReasonQRTimeout, device.ReasonLoggedOut,
	device.ReasonStreamReplaced, device.ReasonTemporaryBan, device.ReasonConnectFailure,
	device.ReasonClientOutdated, device.ReasonDeleted,
}

// Metrics is the gateway's metrics and the registry that exposes them.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpMu       sync.RWMutex
	httpSeries   map[httpKey]httpSeries

	listeners     [2]prometheus.Gauge // [root, device]
	emitted       map[string]prometheus.Counter
	emittedVec    *prometheus.CounterVec
	slowListeners prometheus.Counter

	connects, reconnects, streamReplaced, bans prometheus.Counter
	disconnects                                map[device.Reason]prometheus.Counter
	disconnectsVec                             *prometheus.CounterVec

	received        prometheus.Counter
	receiveDuration prometheus.Observer
	sent            [2]prometheus.Counter // [ok, error]
	sendDuration    prometheus.Observer

	leases    map[application.LeaseChange]prometheus.Counter
	leasesVec *prometheus.CounterVec

	webhooks        map[string]prometheus.Counter
	webhooksVec     *prometheus.CounterVec
	webhookDuration prometheus.Observer

	redisErrors    map[string]prometheus.Counter
	redisErrorsVec *prometheus.CounterVec
	redisConnected prometheus.Gauge
	redisSeen      sync.Once // registers redisConnected: only gateways with Redis have it
}

type httpKey struct {
	method, route string
	status        int
}

type httpSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New registers the gateway's metrics, with Go's runtime and the process's, in a
// registry of its own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg}
	m := &Metrics{reg: reg, httpSeries: map[httpKey]httpSeries{}}

	m.httpRequests = f.counterVec("http_requests_total", "REST requests answered, by route pattern, method and status.", "route", "method", "status")
	m.httpDuration = f.histogramVec("http_request_duration_seconds", "Time to answer REST requests, by route pattern and method.",
		prometheus.DefBuckets, "route", "method")

	conns := f.gaugeVec("socketio_connections", "Socket.io listeners connected, by namespace: root (every device) or device (one device's).", "namespace")
	m.listeners = [2]prometheus.Gauge{conns.WithLabelValues("root"), conns.WithLabelValues("device")}
	m.emittedVec = f.counterVec("socketio_events_emitted_total", "Events sent out to Socket.io listeners, by event (once per event, whatever the number of listeners).", "event")
	m.emitted = resolve(m.emittedVec, device.EventNames) // resolved in advance
	m.slowListeners = f.counter("socketio_slow_listeners_closed_total", "Socket.io connections closed because they did not keep up with their events.")

	m.connects = f.counter("whatsapp_connects_total", "WhatsApp sessions that logged in and connected.")
	m.disconnectsVec = f.counterVec("whatsapp_disconnects_total", "WhatsApp connections that ended, by reason.", "reason")
	m.disconnects = resolve(m.disconnectsVec, disconnectReasons)
	m.reconnects = f.counter("whatsapp_reconnect_attempts_total", "Connections to WhatsApp tried again after a failure or a drop.")
	m.streamReplaced = f.counter("whatsapp_stream_replaced_total", "Sessions whose connection WhatsApp gave to another client (an alarm: never another instance of this gateway).")
	m.bans = f.counter("whatsapp_bans_total", "Sessions WhatsApp banned temporarily.")

	m.received = f.counter("messages_received_total", "Messages received from WhatsApp and stored (acknowledged).")
	m.receiveDuration = f.histogram("message_receive_duration_seconds", "From a message decrypted to it stored with its event, when it is acknowledged to WhatsApp.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
	sent := f.counterVec("messages_sent_total", "Messages sent through WhatsApp, by result: ok (accepted by WhatsApp) or error.", "result")
	m.sent = [2]prometheus.Counter{sent.WithLabelValues("ok"), sent.WithLabelValues("error")}
	m.sendDuration = f.histogram("message_send_duration_seconds", "Time a send call to WhatsApp took, uploads included.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60})

	m.leasesVec = f.counterVec("lease_changes_total", "Device leases this instance claimed, released or lost (to another instance, or not renewed in time).", "change")
	m.leases = resolve(m.leasesVec, []application.LeaseChange{application.LeaseClaimed, application.LeaseReleased, application.LeaseLost})

	m.webhooksVec = f.counterVec("webhook_deliveries_total", "Attempts to deliver events to webhooks, by status: delivered, failed (retried later) or dead (a dead letter).", "status")
	m.webhooks = resolve(m.webhooksVec, []string{"delivered", "failed", "dead"})
	m.webhookDuration = f.histogram("webhook_delivery_duration_seconds", "Time a webhook receiver took to answer a delivery.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})

	m.redisErrorsVec = f.counterVec("redis_errors_total", "Failures to announce events to the other instances through Redis, or to read their announcements.", "op")
	m.redisErrors = resolve(m.redisErrorsVec, []string{"announce", "read"})
	m.redisConnected = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "redis_connected",
		Help: "1 when the last exchange with Redis succeeded, else 0 (absent without Redis)."})
	return m
}

// Handler serves the metrics in Prometheus' exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Sources are what is read at each scrape.
type Sources struct {
	// Devices counts the devices by status.
	Devices func(ctx context.Context) (map[device.Status]int, error)
	// Feed tells the id of the last event delivered to listeners and of the newest in
	// the log.
	Feed func(ctx context.Context) (delivered, newest device.EventID, err error)
	// DB is the database pool; nil without a database.
	DB *sql.DB
}

// Watch registers the metrics read from s at each scrape.
func (m *Metrics) Watch(s Sources) {
	m.reg.MustRegister(&scrape{sources: s,
		devices:   prometheus.NewDesc(namespace+"_devices", "Devices by status (all instances' devices: they share the database).", []string{"status"}, nil),
		delivered: prometheus.NewDesc(namespace+"_event_feed_delivered_id", "Id of the last event this instance delivered to its listeners.", nil, nil),
		newest:    prometheus.NewDesc(namespace+"_event_log_newest_id", "Id of the newest event in the event log.", nil, nil),
		lag:       prometheus.NewDesc(namespace+"_event_feed_lag", "Event ids the log holds beyond the last event delivered to listeners (0 when caught up).", nil, nil),
	})
	if s.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(s.DB, namespace))
	}
}

// ObserveRequest counts a REST request (for the rest adapter).
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	k := httpKey{method, route, status}
	m.httpMu.RLock()
	s, ok := m.httpSeries[k]
	m.httpMu.RUnlock()
	if !ok {
		// Routes and methods are the API's, statuses a few: the series are bounded.
		s = httpSeries{m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)), m.httpDuration.WithLabelValues(route, method)}
		m.httpMu.Lock()
		m.httpSeries[k] = s
		m.httpMu.Unlock()
	}
	s.count.Inc()
	s.duration.Observe(took.Seconds())
}

// ListenerConnected counts a Socket.io listener in (for the socketio adapter).
func (m *Metrics) ListenerConnected(root bool) { m.listener(root).Inc() }

// ListenerDisconnected counts a Socket.io listener out.
func (m *Metrics) ListenerDisconnected(root bool) { m.listener(root).Dec() }

func (m *Metrics) listener(root bool) prometheus.Gauge {
	if root {
		return m.listeners[0]
	}
	return m.listeners[1]
}

// EventEmitted counts an event sent to Socket.io listeners.
func (m *Metrics) EventEmitted(name string) { child(m.emitted, m.emittedVec, name).Inc() }

// SlowListenerCut counts a Socket.io connection closed for not keeping up.
func (m *Metrics) SlowListenerCut() { m.slowListeners.Inc() }

// SessionConnected counts a WhatsApp login (for the whatsmeow adapter).
func (m *Metrics) SessionConnected() { m.connects.Inc() }

// SessionDisconnected counts a WhatsApp connection that ended, and the stream
// replacements and bans among them.
func (m *Metrics) SessionDisconnected(reason device.Reason) {
	child(m.disconnects, m.disconnectsVec, reason).Inc()
	switch reason {
	case device.ReasonStreamReplaced:
		m.streamReplaced.Inc()
	case device.ReasonTemporaryBan:
		m.bans.Inc()
	}
}

// ReconnectAttempt counts a connection to WhatsApp tried again.
func (m *Metrics) ReconnectAttempt() { m.reconnects.Inc() }

// MessageReceived counts a message stored, and how long storing it took.
func (m *Metrics) MessageReceived(took time.Duration) {
	m.received.Inc()
	m.receiveDuration.Observe(took.Seconds())
}

// MessageSent counts a send call to WhatsApp (for the use cases).
func (m *Metrics) MessageSent(took time.Duration, err error) {
	if err != nil {
		m.sent[1].Inc()
	} else {
		m.sent[0].Inc()
	}
	m.sendDuration.Observe(took.Seconds())
}

// LeaseChanged counts a lease claimed, released or lost (for the use cases).
func (m *Metrics) LeaseChanged(change application.LeaseChange) {
	child(m.leases, m.leasesVec, change).Inc()
}

// WebhookAttempted counts an attempt to deliver an event to a webhook (for the use
// cases).
func (m *Metrics) WebhookAttempted(status string, took time.Duration) {
	child(m.webhooks, m.webhooksVec, status).Inc()
	m.webhookDuration.Observe(took.Seconds())
}

// RedisFailed counts a failed exchange with Redis (for the redis adapter).
func (m *Metrics) RedisFailed(op string) { child(m.redisErrors, m.redisErrorsVec, op).Inc() }

// RedisReachable records whether the last exchange with Redis succeeded.
func (m *Metrics) RedisReachable(ok bool) {
	m.redisSeen.Do(func() { m.reg.MustRegister(m.redisConnected) })
	if ok {
		m.redisConnected.Set(1)
	} else {
		m.redisConnected.Set(0)
	}
}

// resolve makes the series of vec for each of values in advance.
func resolve[V ~string](vec *prometheus.CounterVec, values []V) map[V]prometheus.Counter {
	out := make(map[V]prometheus.Counter, len(values))
	for _, v := range values {
		out[v] = vec.WithLabelValues(string(v))
	}
	return out
}

// child is the series of value, resolved in advance, or made now for a value that was
// not foreseen.
func child[V ~string](resolved map[V]prometheus.Counter, vec *prometheus.CounterVec, value V) prometheus.Counter {
	if c, ok := resolved[value]; ok {
		return c
	}
	return vec.WithLabelValues(string(value))
}

// scrape reads, at each scrape, what is cheaper to read than to track.
type scrape struct {
	sources                         Sources
	devices, delivered, newest, lag *prometheus.Desc
}

// scrapeTimeout bounds the reads of one scrape.
const scrapeTimeout = 5 * time.Second

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.devices
	ch <- s.delivered
	ch <- s.newest
	ch <- s.lag
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if counts, err := s.sources.Devices(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(s.devices, err)
	} else {
		for _, st := range device.Statuses {
			ch <- prometheus.MustNewConstMetric(s.devices, prometheus.GaugeValue, float64(counts[st]), st.String())
		}
	}
	delivered, newest, err := s.sources.Feed(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(s.lag, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(s.delivered, prometheus.GaugeValue, float64(delivered))
	ch <- prometheus.MustNewConstMetric(s.newest, prometheus.GaugeValue, float64(newest))
	ch <- prometheus.MustNewConstMetric(s.lag, prometheus.GaugeValue, float64(max(newest-delivered, 0)))
}

// factory makes metrics in the gateway's namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Observer {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
