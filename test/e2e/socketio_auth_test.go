package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
)

// TestAuthErrors checks that each failure reaches the client's connect_error with the
// contract's exact message, on a device namespace and on the root namespace, with both
// clients.
func TestAuthErrors(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	unconfigured := startGateway(t, bootstrap.Config{APIKey: ""})
	id := g.createDevice("Auth")
	for _, lang := range []string{"js", "python"} {
		for _, tc := range []struct {
			name, base, namespace, key, want string
			env                              []string
		}{
			{"no key", g.base, "/device/" + id, "", "API key is required", []string{"AUTH=none"}},
			{"wrong key", g.base, "/device/" + id, "wrong", "Invalid API key", nil},
			{"no key on root", g.base, "/", "", "API key is required", []string{"AUTH=none"}},
			{"wrong key on root", g.base, "/", "wrong", "Invalid API key", nil},
			{"no key configured", unconfigured.base, "/", apiKey, "Server configuration error", nil},
			{"unknown device", g.base, "/device/0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f", apiKey, "Device not found", nil},
		} {
			t.Run(lang+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				p := listener(t, lang, tc.base, tc.namespace, tc.key, tc.env...)
				if ev := p.expect("connect_error"); ev.Message != tc.want {
					t.Fatalf("connect_error %q, want %q", ev.Message, tc.want)
				}
			})
		}
	}
}

// TestKeyLocations accepts the key from the query, the handshake's auth object and the
// X-API-Key header (python-socketio sends the spec's apiKey header; see TestAuthErrors).
func TestKeyLocations(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Keys")
	for _, auth := range []string{"query", "auth", "header"} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			p := listener(t, "js", g.base, "/device/"+id, apiKey, "AUTH="+auth, "TRANSPORTS=websocket")
			p.expect("connect")
			expectState(t, p, "created", id)
		})
	}
}

// TestMalformedNamespace refuses names that are not /device/<uuid>.
func TestMalformedNamespace(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	for _, nsp := range []string{"/device/not-a-uuid", "/devices/x", "/device/"} {
		p := listener(t, "js", g.base, nsp, apiKey)
		if ev := p.expect("connect_error"); ev.Message != "Invalid namespace" {
			t.Fatalf("%s: connect_error %q", nsp, ev.Message)
		}
	}
}

// TestEmitBeforeConnectCannotBypassAuth publishes a device's events before anyone
// listens to it, then connects without a key: with a function-matched parent namespace,
// that emission would have made a namespace without the auth middleware.
func TestEmitBeforeConnectCannotBypassAuth(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Early")
	g.connect(id) // state and qr events are published to nobody
	g.api.waitStatus(id, "pairing")
	for _, tc := range []struct{ key, want string }{{"", "API key is required"}, {"wrong", "Invalid API key"}} {
		p := listener(t, "js", g.base, "/device/"+id, tc.key, "AUTH=query")
		if ev := p.expect("connect_error"); ev.Message != tc.want {
			t.Fatalf("key %q: connect_error %q, want %q", tc.key, ev.Message, tc.want)
		}
	}
	p := listener(t, "js", g.base, "/device/"+id, apiKey)
	p.expect("connect")
	expectState(t, p, "pairing", id)
}

// TestDevicesAreIsolated gives two devices a listener each: neither hears the other,
// while a root listener hears both.
func TestDevicesAreIsolated(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	a, b := g.createDevice("A"), g.createDevice("B")
	pa := listener(t, "js", g.base, "/device/"+a, apiKey)
	pb := listener(t, "js", g.base, "/device/"+b, apiKey)
	root := listener(t, "js", g.base, "/", apiKey)
	for _, p := range []*process{pa, pb, root} {
		p.expect("connect")
	}
	expectState(t, pa, "created", a)
	expectState(t, pb, "created", b)
	g.connect(a)
	expectState(t, pa, "connecting", a)
	expectState(t, pa, "pairing", a)
	expectPayload(t, pa, "qr", "deviceId,qr,timestamp", a)
	g.connect(b)
	expectState(t, pb, "connecting", b)
	expectState(t, pb, "pairing", b)
	expectPayload(t, pb, "qr", "deviceId,qr,timestamp", b)
	pa.quiet(300 * time.Millisecond)
	for _, want := range []struct{ id, name string }{{a, "state"}, {a, "state"}, {a, "qr"}, {b, "state"}, {b, "state"}, {b, "qr"}} {
		if ev := root.next(5 * time.Second); ev.Event != want.name || ev.Data["deviceId"] != want.id {
			t.Fatalf("root heard %+v, want %s of %s", ev, want.name, want.id)
		}
	}
}

// TestLateListenerGetsStateAndQR connects a listener after the QR code was published.
func TestLateListenerGetsStateAndQR(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Late")
	g.connect(id)
	g.api.waitStatus(id, "pairing")
	code, err := g.WhatsApp.QR(device.ID(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"js", "python"} {
		p := listener(t, lang, g.base, "/device/"+id, apiKey)
		p.expect("connect")
		expectState(t, p, "pairing", id)
		if qr := expectPayload(t, p, "qr", "deviceId,qr,timestamp", id); qr.Data["qr"] != code {
			t.Fatalf("%s: late qr %v, want %s", lang, qr.Data["qr"], code)
		}
	}
}

// TestDeviceLifecycleAndNamespaces: a device created after start can be joined; once
// deleted, its listeners are told and let go, and it cannot be joined any more.
func TestDeviceLifecycleAndNamespaces(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Short-lived")
	p := listener(t, "js", g.base, "/device/"+id, apiKey)
	p.expect("connect")
	expectState(t, p, "created", id)
	g.connect(id)
	expectState(t, p, "connecting", id)
	expectState(t, p, "pairing", id)
	expectPayload(t, p, "qr", "deviceId,qr,timestamp", id)
	g.api.call("DELETE", "/api/v1/devices/"+id, "", http.StatusNoContent, nil)
	if d := expectPayload(t, p, "disconnected", "deviceId,reason,timestamp", id); d.Data["reason"] != "deleted" {
		t.Fatalf("disconnected %v", d.Data)
	}
	if ev := p.expect("disconnect"); ev.Reason != "io server disconnect" {
		t.Fatalf("disconnect reason %q", ev.Reason)
	}
	again := listener(t, "js", g.base, "/device/"+id, apiKey)
	if ev := again.expect("connect_error"); ev.Message != "Device not found" {
		t.Fatalf("joining a deleted device: %q", ev.Message)
	}

	// A device that never connected is let go of the same way; the root namespace on
	// the same connection stays.
	idle := g.createDevice("Never connected")
	both := start(t, []string{"WAGATE_URL=" + g.base, "API_KEY=" + apiKey, "NAMESPACES=/,/device/" + idle},
		"node", scriptPath(t, "js", "listen-many.mjs"))
	both.unordered = true // two namespaces: their events interleave
	both.take("both namespaces connected", func(ev clientEvent) bool { return ev.Event == "connect" })
	both.take("both namespaces connected", func(ev clientEvent) bool { return ev.Event == "connect" })
	both.take("the welcome", func(ev clientEvent) bool { return ev.Event == "state" && ev.Namespace == "/device/"+idle })
	g.api.call("DELETE", "/api/v1/devices/"+idle, "", http.StatusNoContent, nil)
	for _, ns := range []string{"/", "/device/" + idle} {
		both.take("disconnected (deleted) on "+ns, func(ev clientEvent) bool { return ev.Event == "disconnected" && ev.Namespace == ns })
	}
	if ev := both.take("the device namespace let go", func(ev clientEvent) bool { return ev.Event == "disconnect" }); ev.Namespace != "/device/"+idle || ev.Reason != "io server disconnect" {
		t.Fatalf("after the delete: %+v, want the device namespace disconnected by the server", ev)
	}
	both.quiet(500 * time.Millisecond) // the root namespace stays connected
	for _, ev := range both.pending {
		if ev.Event == "disconnect" {
			t.Fatalf("%s was disconnected too (%s)", ev.Namespace, ev.Reason)
		}
	}
}

// TestUpperCaseNamespaceIsRefused: a device has one namespace, in lower case like its
// id. /device/<ID in upper case> once made a second namespace for the same device, and
// whichever of the two was joined last took all of the device's events.
func TestUpperCaseNamespaceIsRefused(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Case")
	lower := listener(t, "js", g.base, "/device/"+id, apiKey)
	lower.expect("connect")
	expectState(t, lower, "created", id)
	upper := listener(t, "js", g.base, "/device/"+strings.ToUpper(id), apiKey)
	if ev := upper.expect("connect_error"); ev.Message != "Invalid namespace" {
		t.Fatalf("upper-case namespace: connect_error %q", ev.Message)
	}
	g.connect(id)
	expectState(t, lower, "connecting", id)
}
