package e2e

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/test/wasim"
)

// TestDatabaseOutageLosesNothing cuts the gateway off its PostgreSQL database while
// messages arrive: none is acknowledged to WhatsApp while it cannot be stored, and once
// the database is back every message arrives, once, in order.
func TestDatabaseOutageLosesNothing(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	proxy := newCutProxy(t, dbtest.PostgresURL(t))
	gw := startLive(t, simConfig(t, sim, proxy.url))
	const phone, contact, n = "15550008001", "15550008002", 20
	id := linkDevice(t, gw.api, sim, phone)
	p := listener(t, "js", gw.base(), "/device/"+id, apiKey, "TRANSPORTS=websocket")
	p.expect("connect")
	await(t, p, "state", status("ready"))

	proxy.cut()
	for i := range n {
		if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: contact, To: phone, Text: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway cannot store them: they stay with WhatsApp, and nobody hears of them.
	time.Sleep(3 * time.Second)
	a, err := sim.Account(phone)
	if err != nil {
		t.Fatal(err)
	}
	if a.Pending != n {
		t.Fatalf("during the outage the simulator has %d messages pending, want all %d: some were acknowledged unstored", a.Pending, n)
	}
	p.quiet(100 * time.Millisecond)

	proxy.restore()
	var heard []string
	for len(heard) < n {
		ev, _ := await(t, p, "message", nil)
		heard = append(heard, ev.Data["message"].(map[string]any)["text"].(string))
	}
	checkExactlyOnce(t, "listener", heard, n)
	checkExactlyOnce(t, "event feed", messageTexts(t, gw.api, "/api/v1/devices/"+id+"/events"), n)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if a, err = sim.Account(phone); err == nil && a.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage %d messages are still pending (%v)", a.Pending, err)
		}
	}
	gw.api.call("GET", "/readyz", "", http.StatusOK, nil)
}

// cutProxy forwards TCP connections to a PostgreSQL server until it is cut: then it
// closes every connection and refuses new ones, as a database that went away would.
type cutProxy struct {
	t      *testing.T
	url    string // the database's URL through the proxy
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, dsn string) *cutProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, target: u.Host, conns: map[net.Conn]struct{}{}}
	u.Host = ln.Addr().String()
	p.url = u.String()
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
