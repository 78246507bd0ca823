package rest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// as sends a request with the given key and, when body is not "", a JSON body.
func (s *server) as(t *testing.T, secret, method, path, body string) response {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
		return s.do(t, method, path, r, "X-API-Key", secret, "Content-Type", "application/json")
	}
	return s.do(t, method, path, nil, "X-API-Key", secret)
}

// newKey creates a key with the admin key and returns its secret and id.
func (s *server) newKey(t *testing.T, body string) (secret, id string) {
	t.Helper()
	r := s.call(t, "POST", "/api/v1/keys", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create key %s: %d %s", body, r.status, r.body)
	}
	m := r.json(t)
	return m["key"].(string), m["id"].(string)
}

func TestKeysAreShownOnceAndListedWithoutSecrets(t *testing.T) {
	s := start(t, key, nil)
	dev := s.create(t, "a")["id"].(string)
	r := s.call(t, "POST", "/api/v1/keys", `{"name":"ci","role":"operator","devices":["`+dev+`"],"expiresAt":"2099-01-01T00:00:00Z"}`)
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
	}
	created := r.json(t)
	secret := created["key"].(string)
	if !strings.HasPrefix(secret, "wag_") || len(secret) < 40 || created["role"] != "operator" ||
		created["devices"].([]any)[0] != dev || created["expiresAt"] != "2099-01-01T00:00:00Z" || created["hint"] != secret[:8] {
		t.Fatalf("created key: %s", r.body)
	}
	list := s.call(t, "GET", "/api/v1/keys", "")
	if list.status != 200 || bytes.Contains(list.body, []byte(secret)) || bytes.Contains(list.body, []byte(secret[8:])) {
		t.Fatalf("list shows the secret or failed: %d %s", list.status, list.body)
	}
	keys := list.json(t)["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["id"] != created["id"] || keys[0].(map[string]any)["hint"] != secret[:8] {
		t.Fatalf("list: %s", list.body)
	}
	if strings.Contains(s.logs.String(), secret[8:]) {
		t.Fatal("the new key appears in the logs")
	}
	for _, tc := range []struct{ body, want string }{
		{`{"name":"x","role":"root"}`, "role must be admin, operator or read-only"},
		{`{"name":"","role":"admin"}`, "name must not be empty"},
		{`{"name":"x","role":"admin","devices":["` + dev + `"]}`, "an admin key manages every device and key: it cannot be limited to devices"},
		{`{"name":"x","role":"operator","devices":["0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"]}`, "device 0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f does not exist"},
		{`{"name":"x","role":"operator","expiresAt":"2001-01-01T00:00:00Z"}`, "expiresAt must be in the future"},
		{`{"name":"x","role":"operator","scope":"all"}`, `unknown field "scope"`},
	} {
		r := s.call(t, "POST", "/api/v1/keys", tc.body)
		if code, msg := r.errorOf(t); r.status != 400 || !strings.Contains(msg, tc.want) || (code != "invalid_request" && code != "invalid_json") {
			t.Errorf("%s: %d %s, want 400 %q", tc.body, r.status, r.body, tc.want)
		}
	}
	if n := len(s.call(t, "GET", "/api/v1/keys", "").json(t)["keys"].([]any)); n != 1 {
		t.Fatalf("refused creations stored keys: %d", n)
	}
}

func TestRolesAndRevocation(t *testing.T) {
	s := start(t, key, nil)
	dev := s.create(t, "a")["id"].(string)
	reader, _ := s.newKey(t, `{"name":"dash","role":"read-only"}`)
	operator, opID := s.newKey(t, `{"name":"worker","role":"operator"}`)
	admin, _ := s.newKey(t, `{"name":"ops","role":"admin"}`)

	forbidden := func(secret, method, path, body, want string) {
		t.Helper()
		r := s.as(t, secret, method, path, body)
		if code, msg := r.errorOf(t); r.status != 403 || code != "forbidden" || msg != want {
			t.Errorf("%s %s: %d %s, want 403 %q", method, path, r.status, r.body, want)
		}
	}
	// Read-only: GETs only.
	if r := s.as(t, reader, "GET", "/api/v1/devices/"+dev, ""); r.status != 200 {
		t.Fatalf("read-only GET: %d %s", r.status, r.body)
	}
	if r := s.as(t, reader, "GET", "/api/v1/devices", ""); r.status != 200 || r.json(t)["total"] != 1.0 {
		t.Fatalf("read-only list: %d %s", r.status, r.body)
	}
	forbidden(reader, "POST", "/api/v1/devices", `{"name":"x"}`, "this key is read-only")
	forbidden(reader, "PATCH", "/api/v1/devices/"+dev, `{"name":"x"}`, "this key is read-only")
	forbidden(reader, "DELETE", "/api/v1/devices/"+dev, "", "this key is read-only")
	forbidden(reader, "POST", "/api/v1/devices/"+dev+"/connect", "", "this key is read-only")
	forbidden(reader, "POST", "/api/v1/devices/"+dev+"/messages", `{"to":"1555","text":"hi"}`, "this key is read-only")
	forbidden(reader, "GET", "/api/v1/keys", "", "only admin keys may manage keys")
	// Operators: devices, not keys.
	if r := s.as(t, operator, "PATCH", "/api/v1/devices/"+dev, `{"name":"renamed"}`); r.status != 200 {
		t.Fatalf("operator rename: %d %s", r.status, r.body)
	}
	forbidden(operator, "GET", "/api/v1/keys", "", "only admin keys may manage keys")
	forbidden(operator, "POST", "/api/v1/keys", `{"name":"mine","role":"admin"}`, "only admin keys may manage keys")
	forbidden(operator, "DELETE", "/api/v1/keys/"+opID, "", "only admin keys may manage keys")
	// Created admin keys manage keys; revocation applies to the very next call.
	if r := s.as(t, admin, "DELETE", "/api/v1/keys/"+opID, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := s.as(t, operator, "GET", "/api/v1/devices", "")
	if _, msg := r.errorOf(t); r.status != 401 || msg != "Invalid API key" {
		t.Fatalf("revoked key: %d %s", r.status, r.body)
	}
	if r := s.as(t, admin, "DELETE", "/api/v1/keys/"+opID, ""); r.status != 404 {
		t.Fatalf("revoke twice: %d %s", r.status, r.body)
	}
	if r := s.as(t, admin, "DELETE", "/api/v1/keys/nope", ""); r.status != 400 {
		t.Fatalf("revoke a malformed id: %d %s", r.status, r.body)
	}
}

func TestExpiredKeysAreRefused(t *testing.T) {
	t.Parallel()
	s := start(t, key, nil)
	expires := time.Now().Add(2 * time.Second)
	secret, _ := s.newKey(t, `{"name":"brief","role":"read-only","expiresAt":"`+expires.UTC().Format(time.RFC3339Nano)+`"}`)
	if r := s.as(t, secret, "GET", "/api/v1/devices", ""); r.status != 200 {
		t.Fatalf("before expiry: %d %s", r.status, r.body)
	}
	time.Sleep(time.Until(expires) + 50*time.Millisecond)
	if r := s.as(t, secret, "GET", "/api/v1/devices", ""); r.status != 401 {
		t.Fatalf("after expiry: %d %s", r.status, r.body)
	}
}

// TestScopeHoldsWhereverADeviceIsNamed tries every way a key limited to one device could
// name another: each must answer as if the other device did not exist, and change nothing.
func TestScopeHoldsWhereverADeviceIsNamed(t *testing.T) {
	s := start(t, key, nil)
	mine := s.ready(t)
	other := s.ready(t)
	if err := s.wa.Deliver(device.ID(other), message.Message{ID: "3EBOTHER", Type: message.TypeDocument,
		Media: &message.Media{MimeType: "application/pdf", Size: 3}}, []byte("pdf")...); err != nil {
		t.Fatal(err)
	}
	scoped, _ := s.newKey(t, `{"name":"tenant","role":"operator","devices":["`+mine+`"]}`)

	upper := strings.ToUpper(other)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/devices/" + other, ""},
		{"GET", "/api/v1/devices/" + upper, ""},
		{"PATCH", "/api/v1/devices/" + other, `{"name":"stolen"}`},
		{"DELETE", "/api/v1/devices/" + other, ""},
		{"POST", "/api/v1/devices/" + other + "/connect", ""},
		{"POST", "/api/v1/devices/" + other + "/disconnect", ""},
		{"POST", "/api/v1/devices/" + other + "/logout", ""},
		{"GET", "/api/v1/devices/" + other + "/qr", ""},
		{"POST", "/api/v1/devices/" + other + "/pair-code", `{"phoneNumber":"15551234567"}`},
		{"POST", "/api/v1/devices/" + other + "/messages", `{"to":"15550001111","text":"spoof"}`},
		{"POST", "/api/v1/devices/" + upper + "/messages", `{"to":"15550001111","text":"spoof"}`},
		{"GET", "/api/v1/devices/" + other + "/messages/3EBOTHER/media", ""},
		// A query parameter never overrides the checked path id.
		{"GET", "/api/v1/devices/" + other + "?id=" + mine, ""},
		{"POST", "/api/v1/devices/" + other + "/messages?id=" + mine + "&deviceId=" + mine, `{"to":"15550001111","text":"spoof"}`},
	} {
		r := s.as(t, scoped, tc.method, tc.path, tc.body)
		if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
			t.Errorf("%s %s: %d %s, want 404 not_found", tc.method, tc.path, r.status, r.body)
		}
	}
	// The same query trick on its own device does not reach the other one.
	if r := s.as(t, scoped, "GET", "/api/v1/devices/"+mine+"?id="+other, ""); r.status != 200 || r.json(t)["id"] != mine {
		t.Fatalf("own device with ?id=other: %d %s", r.status, r.body)
	}
	// Its listing holds its device only, whatever the filters and pages.
	for _, q := range []string{"", "?status=ready", "?limit=500", "?offset=1"} {
		r := s.as(t, scoped, "GET", "/api/v1/devices"+q, "")
		page := r.json(t)
		if r.status != 200 || bytes.Contains(r.body, []byte(other)) || (q != "?offset=1" && page["total"] != 1.0) {
			t.Errorf("list%s: %d %s", q, r.status, r.body)
		}
	}
	// Creating a device would make one outside its scope; keys are for admins.
	r := s.as(t, scoped, "POST", "/api/v1/devices", `{"name":"new"}`)
	if code, _ := r.errorOf(t); r.status != 403 || code != "forbidden" {
		t.Fatalf("scoped create: %d %s", r.status, r.body)
	}
	if r := s.as(t, scoped, "POST", "/api/v1/keys", `{"name":"escalate","role":"operator","devices":["`+other+`"]}`); r.status != 403 {
		t.Fatalf("scoped key creation: %d %s", r.status, r.body)
	}
	// Nothing happened to the other device: same name, still ready, nothing sent.
	got := s.call(t, "GET", "/api/v1/devices/"+other, "").json(t)
	if got["name"] != "Phone" || got["status"] != "ready" {
		t.Fatalf("the other device changed: %v", got)
	}
	if sent := s.wa.Sent(device.ID(other)); len(sent) != 0 {
		t.Fatalf("sent from the other device: %v", sent)
	}
	// Its own device works.
	if r := s.as(t, scoped, "POST", "/api/v1/devices/"+mine+"/messages", `{"to":"15550001111","text":"hi"}`); r.status != 201 {
		t.Fatalf("send from its own device: %d %s", r.status, r.body)
	}
}
