package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/bootstrap"
)

// createKey creates an API key through the REST API and returns its secret and id.
func (g gateway) createKey(body string) (secret, id string) {
	g.api.t.Helper()
	var k struct{ Key, ID string }
	g.api.call("POST", "/api/v1/keys", body, http.StatusCreated, &k)
	return k.Key, k.ID
}

// TestKeyScopeOnSocketIO: a key limited to one device hears that device only, on its
// namespace and on the root stream; the other device's namespace answers as if it did
// not exist; revoking the key closes its listeners within seconds.
func TestKeyScopeOnSocketIO(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	mine, other := g.createDevice("Mine"), g.createDevice("Other")
	scoped, scopedID := g.createKey(`{"name":"tenant","role":"read-only","devices":["` + mine + `"]}`)

	for _, lang := range []string{"js", "python"} {
		p := listener(t, lang, g.base, "/device/"+other, scoped)
		if ev := p.expect("connect_error"); ev.Message != "Device not found" {
			t.Fatalf("%s: another device's namespace: connect_error %q", lang, ev.Message)
		}
	}
	own := listener(t, "js", g.base, "/device/"+mine, scoped)
	own.expect("connect")
	expectState(t, own, "created", mine)
	root := listener(t, "js", g.base, "/", scoped)
	root.expect("connect")
	admin := listener(t, "js", g.base, "/", apiKey)
	admin.expect("connect")

	// The other device first: a scoped root listener that heard it would print it first.
	g.connect(other)
	g.api.waitStatus(other, "pairing")
	g.connect(mine)
	for _, want := range []string{"connecting", "pairing"} {
		expectState(t, root, want, mine)
	}
	expectPayload(t, root, "qr", "deviceId,qr,timestamp", mine)
	root.quiet(300 * time.Millisecond)
	seen := map[string]int{}
	for range 6 { // both devices' state, state, qr, in any interleaving
		seen[admin.next(5 * time.Second).Data["deviceId"].(string)]++
	}
	if seen[mine] != 3 || seen[other] != 3 {
		t.Fatalf("the admin's root listener heard %v, want 3 events of each device", seen)
	}

	// Revoked: its listeners are closed by the server, within seconds.
	g.api.call("DELETE", "/api/v1/keys/"+scopedID, "", http.StatusNoContent, nil)
	for _, p := range []*process{own, root} {
		ev := p.next(10 * time.Second) // the device's events may come first
		for ev.Event != "disconnect" {
			ev = p.next(10 * time.Second)
		}
		if ev.Reason != "io server disconnect" {
			t.Fatalf("revoked key's listener: disconnect %q", ev.Reason)
		}
	}
	if p := listener(t, "js", g.base, "/", scoped); p.expect("connect_error").Message != "Invalid API key" {
		t.Fatal("a revoked key connected again")
	}
	admin.quiet(100 * time.Millisecond) // the admin's listener stays
}

// TestConnectionsPerKeyAreCapped: past SOCKETIO_MAX_CONNECTIONS_PER_KEY, a key's next
// listener is refused; other keys are not concerned.
func TestConnectionsPerKeyAreCapped(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey, SocketIOMaxConnectionsPerKey: 2})
	id := g.createDevice("Capped")
	worker, _ := g.createKey(`{"name":"worker","role":"read-only"}`)
	for range 2 {
		listener(t, "js", g.base, "/device/"+id, worker).expect("connect")
	}
	if ev := listener(t, "js", g.base, "/", worker).expect("connect_error"); ev.Message != "Too many connections for this API key" {
		t.Fatalf("third listener: connect_error %q", ev.Message)
	}
	listener(t, "js", g.base, "/", apiKey).expect("connect")
}

// localDialer dials from the given loopback address (any of 127.0.0.0/8), so that one
// test can stand for clients at many addresses.
func localDialer(from string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
}

// rawConnect opens an engine.io websocket from the given loopback address and asks to
// join namespace with key, returning the connection and the server's answer packet.
func rawConnect(ctx context.Context, base, from, namespace, key string) (*websocket.Conn, string, error) {
	client := &http.Client{Transport: &http.Transport{DialContext: localDialer(from).DialContext}}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws/?EIO=4&transport=websocket",
		&websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, "", err
	}
	if _, open, err := conn.Read(ctx); err != nil || !strings.HasPrefix(string(open), "0{") {
		conn.CloseNow()
		return nil, "", fmt.Errorf("engine.io open: %q %v", open, err)
	}
	answer, err := rawJoin(ctx, conn, namespace, key)
	return conn, answer, err
}

// rawJoin sends a socket.io CONNECT for namespace with key and returns the answer.
func rawJoin(ctx context.Context, conn *websocket.Conn, namespace, key string) (string, error) {
	nsp := ""
	if namespace != "/" {
		nsp = namespace + ","
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`40`+nsp+`{"apiKey":"`+key+`"}`)); err != nil {
		return "", err
	}
	_, answer, err := conn.Read(ctx)
	return string(answer), err
}

// refused is whether a socket.io answer is a CONNECT_ERROR with message.
func refused(answer, message string) bool {
	var e struct{ Message string }
	return strings.HasPrefix(answer, "44") && json.Unmarshal([]byte(answer[2:]), &e) == nil && e.Message == message
}

// TestSocketIOKeyFailuresAreThrottled: an address that keeps failing gets the throttle's
// answer, while the valid key still gets in from it; one connection cannot try key after
// key: it is closed after a few failures.
func TestSocketIOKeyFailuresAreThrottled(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, answer, err := rawConnect(ctx, g.base, "127.0.0.2", "/", "wrong-1")
	if err != nil || !refused(answer, "Invalid API key") {
		t.Fatalf("first failure: %q %v", answer, err)
	}
	for i := 2; i <= 3; i++ {
		if answer, err := rawJoin(ctx, conn, "/", fmt.Sprintf("wrong-%d", i)); err != nil || !strings.HasPrefix(answer, "44") {
			t.Fatalf("failure %d on the same connection: %q %v", i, answer, err)
		}
	}
	readCtx, cancelRead := context.WithTimeout(ctx, 5*time.Second)
	for { // pings may come before the close
		if _, _, err := conn.Read(readCtx); err != nil {
			if websocket.CloseStatus(err) == -1 && readCtx.Err() != nil {
				t.Fatal("the connection stayed open after 3 failed key checks")
			}
			break
		}
	}
	cancelRead()

	// 17 more failures from 127.0.0.2 spend its budget of 20.
	for i := range 17 {
		c, answer, err := rawConnect(ctx, g.base, "127.0.0.2", "/", "wrong")
		if err != nil || !refused(answer, "Invalid API key") {
			t.Fatalf("failure %d: %q %v", i+4, answer, err)
		}
		c.CloseNow()
	}
	c, answer, err := rawConnect(ctx, g.base, "127.0.0.2", "/", "wrong")
	if err != nil || !refused(answer, "Too many failed authentication attempts: retry later") {
		t.Fatalf("21st failure: %q %v", answer, err)
	}
	c.CloseNow()
	c, answer, err = rawConnect(ctx, g.base, "127.0.0.2", "/", apiKey)
	if err != nil || !strings.HasPrefix(answer, `40{"sid":`) {
		t.Fatalf("the valid key from the throttled address: %q %v", answer, err)
	}
	c.CloseNow()
	// Another address is not concerned, with the real client too.
	listener(t, "js", g.base, "/", apiKey).expect("connect")
}
