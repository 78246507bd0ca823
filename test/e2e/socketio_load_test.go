package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/logbuf"
)

// TestFloodReachesEveryListener is the regression test for socket.io/v2's engine, which
// stopped writing a batch of pre-encoded packets after its first one and lost most
// broadcast events under load: thousands of fast events to 100 listeners, every one
// counted, in order.
//
// Not parallel: it measures delivery against a deadline, so it runs before the
// package's parallel tests (gateway processes, 100-device restores) load the machine.
func TestFloodReachesEveryListener(t *testing.T) {
	checkClients(t)
	const listeners, events = 100, 3000
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Flood")
	g.connect(id)
	g.api.waitStatus(id, "pairing")
	p := start(t, []string{"WAGATE_URL=" + g.base, "NAMESPACE=/device/" + id, "API_KEY=" + apiKey,
		"LISTENERS=" + strconv.Itoa(listeners), "EXPECT=" + strconv.Itoa(events), "TRANSPORTS=websocket"},
		"node", scriptPath(t, "js", "flood.mjs"))
	p.waitLine(30*time.Second, "all listeners connected", func(l string) bool { return l == `{"ready":true}` })
	for i := range events {
		if err := g.WhatsApp.Deliver(device.ID(id), message.Message{ID: strconv.Itoa(i), Type: message.TypeText, Text: "flood"}); err != nil {
			t.Fatal(err)
		}
	}
	// On timeout the test fails, but first asks the client for its counts, which say
	// what was lost. About 3 s on a quiet machine; the deadline is for a lost event, not
	// a slow machine (CI runs other packages' tests beside this one).
	deadline := time.After(3 * time.Minute)
wait:
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatal("the flood client exited early")
			}
			if line == `{"done":true}` {
				break wait
			}
		case <-deadline:
			t.Error("not every listener got every event within 3 minutes")
			break wait
		}
	}
	p.stdin.Close()
	var result struct {
		Counts      []int             `json:"counts"`
		OutOfOrder  int               `json:"outOfOrder"`
		Missed      map[string][]int  `json:"missed"`      // by listener: the first ids it lacks
		Disconnects map[string]string `json:"disconnects"` // by listener: why
	}
	line := p.waitLine(10*time.Second, "counts", func(l string) bool { return strings.HasPrefix(l, `{"counts"`) })
	if err := json.Unmarshal([]byte(line), &result); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, c := range result.Counts {
		lost += events - c
	}
	if len(result.Counts) != listeners || lost != 0 || result.OutOfOrder != 0 {
		t.Fatalf("%d listeners, %d of %d deliveries lost, %d out of order; first ids missed by listener: %v; disconnected: %v",
			len(result.Counts), lost, listeners*events, result.OutOfOrder, result.Missed, result.Disconnects)
	}
}

// TestSlowListenerIsCutOff connects a listener that never reads beside one that does,
// floods the device, and checks that the slow one is disconnected (its buffer would
// otherwise grow without bound) while the other gets every event.
func TestSlowListenerIsCutOff(t *testing.T) {
	checkClients(t)
	t.Parallel()
	var logs logbuf.Buffer
	gw, err := bootstrap.BuildInMemory(bootstrap.Config{APIKey: apiKey, SocketIOMaxBuffered: 200},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, gw.Gateway)
	g := gateway{InMemory: gw, base: base, api: client{t, base}}
	id := g.createDevice("Slow")
	g.connect(id)
	g.api.waitStatus(id, "pairing")

	slow := rawListener(t, strings.TrimPrefix(base, "http://"), "/device/"+id)
	fast := listener(t, "js", g.base, "/device/"+id, apiKey, "TRANSPORTS=websocket")
	fast.expect("connect")
	expectState(t, fast, "pairing", id)
	expectPayload(t, fast, "qr", "deviceId,qr,timestamp", id)

	// Paced in batches that the fast listener takes in before the next is sent, so that
	// only the slow one falls behind.
	const events, batch = 3000, 50
	text := strings.Repeat("x", 4096)
	for i := 0; i < events; i += batch {
		for j := i; j < i+batch; j++ {
			if err := g.WhatsApp.Deliver(device.ID(id), message.Message{ID: strconv.Itoa(j), Type: message.TypeText, Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		for j := i; j < i+batch; j++ {
			if m := fast.expect("message").Data["message"].(map[string]any); m["id"] != strconv.Itoa(j) {
				t.Fatalf("fast listener: message %v, want %d", m["id"], j)
			}
		}
	}
	// The slow connection was closed by the server: reading what it buffered ends in EOF
	// well before the ping timeout (45 s) would have closed it.
	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, slow); err != nil {
		t.Fatalf("slow connection not closed by the server: %v", err)
	}
	if !strings.Contains(logs.String(), "does not keep up") {
		t.Fatalf("no warning logged:\n%s", logs.String())
	}
}

// rawListener joins a namespace over a bare websocket with a tiny receive buffer and
// then never reads, like a client stuck on a slow network.
func rawListener(t *testing.T, addr, namespace string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /ws/?EIO=4&transport=websocket&apiKey=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", apiKey, addr)
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket upgrade: %v %v", res, err)
	}
	readFrame(t, r) // engine.io open packet
	writeFrame(t, conn, "40"+namespace+",")
	if f := readFrame(t, r); !strings.HasPrefix(f, "40"+namespace+",") {
		t.Fatalf("namespace connect answered %q", f)
	}
	return conn
}

func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		io.ReadFull(r, ext[:])
		n = int(ext[0])<<8 | int(ext[1])
	case 127:
		t.Fatal("unexpectedly large frame")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFrame writes a masked text frame, as clients must.
func writeFrame(t *testing.T, w io.Writer, s string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte(0x81)
	b.WriteByte(0x80 | byte(len(s))) // short frames only
	mask := []byte{1, 2, 3, 4}
	b.Write(mask)
	for i := range len(s) {
		b.WriteByte(s[i] ^ mask[i%4])
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownClosesTransportsAndClientsReconnect stops a gateway under a connected
// listener: the client sees its transport close and reconnects to the next gateway on
// the same address, which tells it the device's state again.
func TestShutdownClosesTransportsAndClientsReconnect(t *testing.T) {
	checkClients(t)
	t.Parallel()
	cfg := bootstrap.Config{APIKey: apiKey, DataDir: t.TempDir()}
	first, cleanup, err := bootstrap.Build(t.Context(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serve(t, first)
	addr := strings.TrimPrefix(base, "http://")
	c := client{t, base}
	var d deviceJSON
	c.call("POST", "/api/v1/devices", `{"name":"Restart"}`, http.StatusCreated, &d)

	p := listener(t, "js", base, "/device/"+d.ID, apiKey, "RECONNECT=1", "TRANSPORTS=websocket")
	p.expect("connect")
	expectState(t, p, "created", d.ID)
	stopped := make(chan struct{})
	go func() { stop(); cleanup(); close(stopped) }()
	if ev := p.expect("disconnect"); ev.Reason != "transport close" {
		t.Fatalf("disconnect reason %q, want transport close", ev.Reason)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not finish")
	}

	second, cleanup2, err := bootstrap.Build(t.Context(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup2()
	serveOn(t, second, addr)
	p.expect("connect")
	expectState(t, p, "created", d.ID)
}
