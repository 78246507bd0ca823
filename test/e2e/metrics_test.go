package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wagate/wagate/test/wasim"
)

// metricsToken is the METRICS_TOKEN of the tests: a scraper's credential, never logged.
const metricsToken = "metrics-token-for-the-e2e-tests-0123456789"

// TestMetricsMove scrapes /metrics while a device is linked, listened to, receives and
// sends a message and loses its connection, and checks that each number moved by what
// happened; /metrics refuses callers without the metrics token or an admin key.
func TestMetricsMove(t *testing.T) {
	checkClients(t)
	t.Parallel()
	leaks.watch(metricsToken)
	sim := wasim.Start(t)
	cfg := simConfig(t, sim, "")
	cfg.MetricsToken = metricsToken
	gw := startLive(t, cfg)

	for name, auth := range map[string]string{"no credentials": "", "a wrong token": "Bearer " + metricsToken + "x"} {
		res := get(t, gw.base()+"/metrics", auth)
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusUnauthorized || body.Error.Code != "unauthorized" {
			t.Fatalf("/metrics with %s: %d %+v (%v), want 401 unauthorized", name, res.StatusCode, body, err)
		}
		res.Body.Close()
	}
	before := scrape(t, gw.base(), "X-API-Key "+apiKey) // an admin key does too

	id := linkDevice(t, gw.api, sim, "15550008888")
	dev := listener(t, "js", gw.base(), "/device/"+id, apiKey, "TRANSPORTS=websocket")
	dev.expect("connect")
	expectState(t, dev, "ready", id)
	root := listener(t, "js", gw.base(), "/", apiKey, "TRANSPORTS=websocket")
	root.expect("connect")
	if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15550009999", To: "15550008888", Text: "count me"}); err != nil {
		t.Fatal(err)
	}
	await(t, dev, "message", nil)
	gw.api.call("POST", "/api/v1/devices/"+id+"/messages", `{"to":"+15550009999","text":"counted"}`, http.StatusCreated, nil)
	if _, err := sim.Drop("15550008888"); err != nil {
		t.Fatal(err)
	}
	await(t, dev, "disconnected", nil)
	await(t, dev, "ready", nil)

	m := scrape(t, gw.base(), "Bearer "+metricsToken)
	moved := func(name string, labels ...string) float64 {
		return m.value(t, name, labels...) - before.valueOr(name, labels...)
	}
	for _, c := range []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{
		{"wagate_http_requests_total", []string{"route", "/api/v1/devices", "method", "POST", "status", "201"}, 1, false},
		{"wagate_http_requests_total", []string{"route", "/api/v1/devices/{id}/connect", "method", "POST", "status", "202"}, 1, false},
		{"wagate_http_requests_total", []string{"route", "/api/v1/devices/{id}/messages", "method", "POST", "status", "201"}, 1, false},
		{"wagate_http_request_duration_seconds", []string{"route", "/api/v1/devices/{id}/messages", "method", "POST"}, 1, false},
		{"wagate_socketio_connections", []string{"namespace", "device"}, 1, false},
		{"wagate_socketio_connections", []string{"namespace", "root"}, 1, false},
		{"wagate_socketio_events_emitted_total", []string{"event", "message"}, 1, false},
		{"wagate_socketio_events_emitted_total", []string{"event", "state"}, 6, true}, // connecting pairing authenticated ready connecting ready
		{"wagate_devices", []string{"status", "ready"}, 1, false},
		{"wagate_messages_received_total", nil, 1, false},
		{"wagate_message_receive_duration_seconds", nil, 1, false},
		{"wagate_messages_sent_total", []string{"result", "ok"}, 1, false},
		{"wagate_message_send_duration_seconds", nil, 1, false},
		{"wagate_whatsapp_connects_total", nil, 2, false}, // linked, then back after the drop
		{"wagate_whatsapp_disconnects_total", []string{"reason", "connection_lost"}, 1, false},
		{"wagate_whatsapp_reconnect_attempts_total", nil, 1, true},
		{"wagate_lease_changes_total", []string{"change", "claimed"}, 1, false},
		{"wagate_event_log_newest_id", nil, 1, true},
	} {
		got := moved(c.name, c.labels...)
		if got != c.want && !(c.atLeast && got > c.want) {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := m.value(t, "go_sql_open_connections", "db_name", "wagate"); n < 1 {
		t.Errorf("the database pool shows %v connections open", n)
	}
	for _, metric := range m["wagate_http_requests_total"].GetMetric() {
		if route := label(metric, "route"); strings.Contains(route, id) {
			t.Errorf("a route label holds a device id: %q", route)
		}
	}

	// Once the listeners are gone and the feed has caught up, the gauges come down.
	dev.stop()
	root.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m = scrape(t, gw.base(), "Bearer "+metricsToken)
		if m.value(t, "wagate_socketio_connections", "namespace", "device")+m.value(t, "wagate_socketio_connections", "namespace", "root") == 0 &&
			m.value(t, "wagate_event_feed_lag") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listeners %v and %v, lag %v after the listeners left", m.value(t, "wagate_socketio_connections", "namespace", "device"),
				m.value(t, "wagate_socketio_connections", "namespace", "root"), m.value(t, "wagate_event_feed_lag"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLogsExplainDevices checks the log line of every status change of a device, and
// that each REST request has an id: the caller's when sane, returned and logged.
func TestLogsExplainDevices(t *testing.T) {
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	id := linkDevice(t, gw.api, sim, "15550007777")
	gw.api.call("POST", "/api/v1/devices/"+id+"/disconnect", "", http.StatusOK, nil)
	gw.api.call("DELETE", "/api/v1/devices/"+id, "", http.StatusNoContent, nil)

	changes := regexp.MustCompile(`msg="device status changed" device=` + id + ` from=(\S*) to=(\S+) reason=(\S+) instance=(\S+)`)
	var got []string
	instances := map[string]bool{}
	for _, m := range changes.FindAllStringSubmatch(gw.logs.String(), -1) {
		instances[m[4]] = true
		got = append(got, m[1]+">"+m[2]+":"+m[3])
	}
	if len(instances) != 1 {
		t.Errorf("the changes name the instances %v, want this one", instances)
	}
	want := `"">created:created created>connecting:connect connecting>pairing:qr pairing>authenticated:paired ` +
		`authenticated>ready:logged_in ready>disconnected:stopped disconnected>deleted:deleted`
	if strings.Join(got, " ") != want {
		t.Fatalf("status changes logged:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}

	for sent, kept := range map[string]bool{"trace-42.a:b/c+d": true, "": false, "two words": false, strings.Repeat("x", 129): false} {
		req, _ := http.NewRequest("GET", gw.base()+"/api/v1/devices/"+id, nil)
		req.Header.Set("X-API-Key", apiKey)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		rid := res.Header.Values("X-Request-Id")
		if len(rid) != 1 || (rid[0] == sent) != kept || !regexp.MustCompile(`^[\w.:/+=-]{1,128}$`).MatchString(rid[0]) {
			t.Fatalf("sent X-Request-Id %q, got %q (status %d)", sent, rid, res.StatusCode)
		}
		// The request's log lines carry it: the request line, and the not-found error.
		line := regexp.MustCompile(`msg=request .*route=/api/v1/devices/\{id\} .*status=404 .*request_id=` + regexp.QuoteMeta(rid[0]) + `\n`)
		if !line.MatchString(gw.logs.String()) {
			t.Fatalf("no request line with request_id=%s in the logs", rid[0])
		}
	}
}

// metricFamilies is one scrape, parsed.
type metricFamilies map[string]*dto.MetricFamily

func get(t *testing.T, url, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if name, value, ok := strings.Cut(auth, " "); ok && name == "X-API-Key" {
		req.Header.Set(name, value)
	} else if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// scrape reads /metrics with auth ("Bearer <token>" or "X-API-Key <key>").
func scrape(t *testing.T, base, auth string) metricFamilies {
	t.Helper()
	res := get(t, base+"/metrics", auth)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the series of name with the labels (name, value pairs): a
// counter's or gauge's value, a histogram's count. The series must exist.
func (m metricFamilies) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.lookup(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in the scrape", name, labels)
	}
	return v
}

// valueOr is value, 0 for a series that does not exist (yet).
func (m metricFamilies) valueOr(name string, labels ...string) float64 {
	v, _ := m.lookup(name, labels...)
	return v
}

func (m metricFamilies) lookup(name string, labels ...string) (float64, bool) {
	for _, metric := range m[name].GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && label(metric, labels[i]) == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case metric.Counter != nil:
			return metric.Counter.GetValue(), true
		case metric.Gauge != nil:
			return metric.Gauge.GetValue(), true
		case metric.Histogram != nil:
			return float64(metric.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
