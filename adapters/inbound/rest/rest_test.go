package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/inbound/rest"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/test/logbuf"
)

const key = "test-key-0123456789"

type server struct {
	url   string
	addr  string
	repo  device.Repository
	store memory.Store
	app   application.App
	wa    *memory.WhatsApp
	files *memory.Fetcher
	logs  *logbuf.Buffer
}

// start serves the API on a loopback port with in-memory adapters. wrap, when not nil,
// wraps the device repository.
func start(t *testing.T, configuredKey string, wrap func(*memory.Repository) device.Repository) *server {
	t.Helper()
	return startWith(t, configuredKey, wrap, rest.Options{MaxMediaBytes: 4 << 20})
}

func startWith(t *testing.T, configuredKey string, wrap func(*memory.Repository) device.Repository, opts rest.Options) *server {
	t.Helper()
	s := &server{store: memory.NewStore(), wa: memory.NewWhatsApp(), files: memory.NewFetcher(), logs: &logbuf.Buffer{}}
	s.repo = s.store.Devices
	if wrap != nil {
		s.repo = wrap(s.store.Devices)
	}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys := memory.NewKeys()
	s.app = application.New(s.repo, s.store.Messages, s.store.Log, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming}, keys, s.wa, memory.NewPublisher(), s.files, webhookPorts(), time.Now, application.NoObserver{}, log)
	guard := apikey.New(application.NewAuthenticate(keys, application.AdminKey(configuredKey), time.Now), log, apikey.Options{})
	api := rest.New(s.app, guard, s.repo, log, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.addr = ln.Addr().String()
	s.url = "http://" + s.addr
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %q", r.body)
	}
	return m
}

// errorOf checks that the response is the API's error shape and returns code and message.
func (r response) errorOf(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: body %q is not {\"error\":{\"code\",\"message\"}}", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e.Error.Code, e.Error.Message
}

func (s *server) do(t *testing.T, method, path string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// call sends an authenticated request with a JSON body (when body is not "").
func (s *server) call(t *testing.T, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return s.do(t, method, path, r, "X-API-Key", key, "Content-Type", "application/json")
}

func (s *server) create(t *testing.T, name string) map[string]any {
	t.Helper()
	r := s.call(t, "POST", "/api/v1/devices", `{"name":"`+name+`"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(t)
}

func (s *server) count(t *testing.T) int {
	t.Helper()
	page, err := s.repo.List(context.Background(), device.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

func TestHealth(t *testing.T) {
	s := start(t, key, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := s.do(t, "GET", path, nil); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	down := start(t, key, failing)
	r := down.do(t, "GET", "/readyz", nil)
	if code, _ := r.errorOf(t); r.status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("readyz with the database down: %d %s", r.status, r.body)
	}
	if r := down.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz with the database down: %d", r.status)
	}
}

// pinger answers Ping with err.
type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

// /readyz checks the other dependencies it is given, and names those that fail.
func TestReadyzChecksDependencies(t *testing.T) {
	up := startWith(t, key, nil, rest.Options{Dependencies: []rest.Dependency{{Name: "Redis", Pinger: pinger{}}}})
	if r := up.do(t, "GET", "/readyz", nil); r.status != http.StatusOK {
		t.Fatalf("readyz with Redis up: %d %s", r.status, r.body)
	}
	down := startWith(t, key, nil, rest.Options{Dependencies: []rest.Dependency{
		{Name: "Redis", Pinger: pinger{errors.New("dial tcp 127.0.0.1:6390: connection refused")}}}})
	r := down.do(t, "GET", "/readyz", nil)
	if code, msg := r.errorOf(t); r.status != http.StatusServiceUnavailable || code != "unavailable" || msg != "Redis is not reachable" {
		t.Fatalf("readyz with Redis down: %d %s", r.status, r.body)
	}
	if r := down.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz with Redis down: %d", r.status)
	}
	if !strings.Contains(down.logs.String(), "connection refused") {
		t.Fatalf("the cause is not logged:\n%s", down.logs)
	}
}

func TestAuthentication(t *testing.T) {
	s := start(t, key, nil)
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		message string
	}{
		{"no key", nil, 401, "API key is required"},
		{"wrong key", []string{"X-API-Key", "nope"}, 401, "Invalid API key"},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, 401, "Invalid API key"},
		{"key as basic auth", []string{"Authorization", "Basic " + key}, 401, "API key is required"},
		{"X-API-Key", []string{"X-API-Key", key}, 200, ""},
		{"bearer", []string{"Authorization", "Bearer " + key}, 200, ""},
		{"bearer, any case", []string{"Authorization", "bearer " + key}, 200, ""},
	} {
		r := s.do(t, "GET", "/api/v1/devices", nil, tc.headers...)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
			continue
		}
		if tc.status != 200 {
			if code, msg := r.errorOf(t); code != "unauthorized" || msg != tc.message {
				t.Errorf("%s: %s %q, want unauthorized %q", tc.name, code, msg, tc.message)
			}
		}
		if bytes.Contains(r.body, []byte(key)) {
			t.Errorf("%s: the key appears in the response", tc.name)
		}
	}
	if strings.Contains(s.logs.String(), key) {
		t.Fatal("the key appears in the logs")
	}
}

func TestNoKeyConfigured(t *testing.T) {
	s := start(t, "", nil)
	for _, headers := range [][]string{nil, {"X-API-Key", ""}, {"X-API-Key", "anything"}} {
		r := s.do(t, "GET", "/api/v1/devices", nil, headers...)
		if code, msg := r.errorOf(t); r.status != http.StatusServiceUnavailable || code != "unavailable" || msg != "Server configuration error" {
			t.Fatalf("with no key configured: %d %s", r.status, r.body)
		}
	}
	if r := s.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz: %d", r.status)
	}
}

func TestCreateDevice(t *testing.T) {
	s := start(t, key, nil)
	r := s.call(t, "POST", "/api/v1/devices", `{"name":"  Sales  "}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	d := r.json(t)
	if d["name"] != "Sales" || d["status"] != "created" || d["phoneNumber"] != nil || d["lastConnectedAt"] != nil {
		t.Fatalf("created %v", d)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/devices/"+d["id"].(string) {
		t.Fatalf("Location %q", loc)
	}
	got := s.call(t, "GET", "/api/v1/devices/"+d["id"].(string), "")
	if got.status != 200 || !bytes.Equal(bytes.TrimSpace(got.body), bytes.TrimSpace(r.body)) {
		t.Fatalf("get after create: %d %s, want %s", got.status, got.body, r.body)
	}
	for _, want := range []string{`"id"`, `"name"`, `"status"`, `"phoneNumber"`, `"jid"`, `"pushName"`, `"businessName"`, `"lastDisconnectReason"`, `"createdAt"`, `"updatedAt"`, `"lastConnectedAt"`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("device JSON lacks %s: %s", want, r.body)
		}
	}
}

// TestRejectedRequestsStoreNothing sends every kind of bad create request and checks its
// status, its error shape, and that no device was stored.
func TestRejectedRequestsStoreNothing(t *testing.T) {
	s := start(t, key, nil)
	huge := `{"name":"` + strings.Repeat("a", 1_000_000) + `"}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"broken JSON", "application/json", `{"name":`, 400, "invalid_json"},
		{"not JSON", "application/json", `name=x`, 400, "invalid_json"},
		{"empty body", "application/json", ``, 400, "invalid_json"},
		{"array", "application/json", `["x"]`, 400, "invalid_json"},
		{"name not a string", "application/json", `{"name":42}`, 400, "invalid_json"},
		{"unknown field", "application/json", `{"name":"x","colour":"red"}`, 400, "invalid_json"},
		{"two objects", "application/json", `{"name":"x"}{"name":"y"}`, 400, "invalid_json"},
		{"missing name", "application/json", `{}`, 400, "invalid_request"},
		{"null name", "application/json", `{"name":null}`, 400, "invalid_request"},
		{"blank name", "application/json", `{"name":"   "}`, 400, "invalid_request"},
		{"1 MB name", "application/json", huge, 400, "invalid_request"},
		{"2 MB body", "application/json", `{"name":"` + strings.Repeat("a", 2_000_000) + `"}`, 413, "payload_too_large"},
		{"form", "application/x-www-form-urlencoded", `name=x`, 415, "unsupported_media_type"},
		{"no content type", "", `{"name":"x"}`, 415, "unsupported_media_type"},
	} {
		r := s.do(t, "POST", "/api/v1/devices", strings.NewReader(tc.body), "X-API-Key", key, "Content-Type", tc.contentType)
		code, msg := r.errorOf(t)
		if r.status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s (%s), want %d %s", tc.name, r.status, code, msg, tc.status, tc.code)
		}
		if len(msg) > 300 {
			t.Errorf("%s: message of %d bytes echoes the input", tc.name, len(msg))
		}
	}
	if n := s.count(t); n != 0 {
		t.Fatalf("%d devices stored by rejected requests", n)
	}
}

func TestChunkedBodyTooLarge(t *testing.T) {
	s := start(t, key, nil)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"name":"`))
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for range 32 { // 2 MiB with no Content-Length
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	r := s.do(t, "POST", "/api/v1/devices", pr, "X-API-Key", key, "Content-Type", "application/json")
	if code, _ := r.errorOf(t); r.status != 413 || code != "payload_too_large" {
		t.Fatalf("chunked 2 MiB body: %d %s", r.status, r.body)
	}
	if s.count(t) != 0 {
		t.Fatal("stored")
	}
}

func TestDeviceIDs(t *testing.T) {
	s := start(t, key, nil)
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/devices/0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f", 404, "not_found"},
		{"/api/v1/devices/not-a-uuid", 400, "invalid_request"},
		{"/api/v1/devices/0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5fff", 400, "invalid_request"},
		{"/api/v1/devices/%27%20OR%201=1--", 400, "invalid_request"},
	} {
		for _, method := range []string{"GET", "DELETE"} {
			r := s.call(t, method, tc.path, "")
			if code, _ := r.errorOf(t); r.status != tc.status || code != tc.code {
				t.Errorf("%s %s: %d %s", method, tc.path, r.status, r.body)
			}
		}
		r := s.call(t, "POST", tc.path+"/connect", "")
		if code, _ := r.errorOf(t); r.status != tc.status || code != tc.code {
			t.Errorf("connect %s: %d %s", tc.path, r.status, r.body)
		}
	}
}

func TestRenameAndDelete(t *testing.T) {
	s := start(t, key, nil)
	id := s.create(t, "Old")["id"].(string)
	r := s.call(t, "PATCH", "/api/v1/devices/"+id, `{"name":"New"}`)
	if r.status != 200 || r.json(t)["name"] != "New" {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	r = s.call(t, "PATCH", "/api/v1/devices/"+id, `{"name":""}`)
	if code, _ := r.errorOf(t); r.status != 400 || code != "invalid_request" {
		t.Fatalf("rename to empty: %d %s", r.status, r.body)
	}
	if got := s.call(t, "GET", "/api/v1/devices/"+id, "").json(t)["name"]; got != "New" {
		t.Fatalf("name after a rejected rename: %v", got)
	}
	if r := s.call(t, "DELETE", "/api/v1/devices/"+id, ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := s.call(t, "DELETE", "/api/v1/devices/"+id, ""); r.status != 404 {
		t.Fatalf("second delete: %d", r.status)
	}
}

func TestLifecycle(t *testing.T) {
	s := start(t, key, nil)
	id := s.create(t, "Phone")["id"].(string)
	if r := s.call(t, "POST", "/api/v1/devices/"+id+"/logout", ""); r.status != 409 {
		t.Fatalf("logout before linking: %d %s", r.status, r.body)
	}
	if r := s.call(t, "POST", "/api/v1/devices/"+id+"/disconnect", ""); r.status != 409 {
		t.Fatalf("disconnect before connecting: %d %s", r.status, r.body)
	}
	r := s.call(t, "POST", "/api/v1/devices/"+id+"/connect", "")
	if r.status != http.StatusAccepted || r.json(t)["status"] != "connecting" {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	r = s.call(t, "POST", "/api/v1/devices/"+id+"/connect", "")
	if code, _ := r.errorOf(t); r.status != 409 || code != "conflict" {
		t.Fatalf("second connect: %d %s", r.status, r.body)
	}
	r = s.call(t, "POST", "/api/v1/devices/"+id+"/disconnect", "")
	if r.status != 200 || r.json(t)["status"] != "disconnected" || r.json(t)["lastDisconnectReason"] != "stopped" {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
}

func TestListDevices(t *testing.T) {
	s := start(t, key, nil)
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		ids = append(ids, s.create(t, n)["id"].(string))
		time.Sleep(2 * time.Millisecond)
	}
	s.call(t, "POST", "/api/v1/devices/"+ids[2]+"/connect", "")
	r := s.call(t, "GET", "/api/v1/devices?limit=2&offset=1", "")
	var page struct {
		Devices []struct{ ID, Status string }
		Total   int
		Limit   int
		Offset  int
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if page.Total != 3 || page.Limit != 2 || page.Offset != 1 || len(page.Devices) != 2 || page.Devices[0].ID != ids[1] {
		t.Fatalf("page %+v", page)
	}
	r = s.call(t, "GET", "/api/v1/devices?status=created", "")
	if err := json.Unmarshal(r.body, &page); err != nil || page.Total != 2 {
		t.Fatalf("status=created: %s", r.body)
	}
	r = s.call(t, "GET", "/api/v1/devices?status=created,pairing,connecting", "")
	if err := json.Unmarshal(r.body, &page); err != nil || page.Total != 3 {
		t.Fatalf("several statuses: %s", r.body)
	}
	for _, q := range []string{"limit=x", "limit=0x10", "limit=-1", "limit=100000", "offset=-3", "status=happy"} {
		r := s.call(t, "GET", "/api/v1/devices?"+q, "")
		if code, _ := r.errorOf(t); r.status != 400 || code != "invalid_request" {
			t.Errorf("?%s: %d %s", q, r.status, r.body)
		}
	}
	if r := s.call(t, "GET", "/api/v1/devices?status=", ""); r.status != 200 {
		t.Fatalf("empty status filter: %d", r.status)
	}
}

func TestUnknownRoutes(t *testing.T) {
	s := start(t, key, nil)
	r := s.call(t, "GET", "/api/v1/nothing", "")
	if code, _ := r.errorOf(t); r.status != 404 || code != "route_not_found" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	r = s.call(t, "PUT", "/api/v1/devices", "")
	if code, _ := r.errorOf(t); r.status != 405 || code != "method_not_allowed" {
		t.Fatalf("wrong method: %d %s", r.status, r.body)
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	s := start(t, key, failing)
	r := s.call(t, "GET", "/api/v1/devices", "")
	code, msg := r.errorOf(t)
	if r.status != 500 || code != "internal" || strings.Contains(string(r.body), "hunter2") {
		t.Fatalf("internal error: %d %s %s", r.status, code, msg)
	}
	if !strings.Contains(s.logs.String(), "hunter2") {
		t.Fatal("the cause of a 500 is not logged for the operator")
	}
}

// failingRepo fails listing with an error whose text must not reach callers.
type failingRepo struct{ *memory.Repository }

func failing(r *memory.Repository) device.Repository { return failingRepo{r} }

func (failingRepo) List(context.Context, device.Filter) (device.Page, error) {
	return device.Page{}, errors.New("dial tcp: password=hunter2 refused")
}

func (failingRepo) Ping(context.Context) error { return errors.New("connection refused") }

// TestRequestValuesOutliveTheRequest is the regression test for fiber returning strings
// backed by reused request buffers: sessions keyed by device ids from route parameters
// ended up under other devices' ids.
func TestRequestValuesOutliveTheRequest(t *testing.T) {
	s := start(t, key, nil)
	var ids []string
	for range 20 {
		id := s.create(t, "Phone")["id"].(string)
		if r := s.call(t, "POST", "/api/v1/devices/"+id+"/connect", ""); r.status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", r.status, r.body)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if !s.wa.Connected(device.ID(id)) {
			t.Fatalf("the session of %s is not found under its id", id)
		}
	}
}

// webhookPorts are the webhook ports in memory.
func webhookPorts() application.WebhookPorts {
	w := memory.NewWebhooks()
	return application.WebhookPorts{Webhooks: w, Deliveries: w.Deliveries(), Sender: memory.NewSender()}
}
