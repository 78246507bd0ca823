// Package e2e drives the wired gateway from outside, over HTTP on a loopback port.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
)

const apiKey = "e2e-key-9f8e7d6c-5b4a39281706f5e4"

// quietLog logs everything into the leak scan only (see TestMain).
func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(leaks, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serve runs gw on a loopback port and returns its base URL and a function that shuts it
// down gracefully (also called when the test ends).
func serve(t testing.TB, gw *bootstrap.Gateway) (string, func()) {
	t.Helper()
	return serveOn(t, gw, "127.0.0.1:0")
}

// serveOn is serve on a given address.
func serveOn(t testing.TB, gw *bootstrap.Gateway, addr string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, ln) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

type client struct {
	t    testing.TB
	base string
}

// call sends an authenticated request and decodes the JSON answer into out (when not nil),
// failing the test unless the status is want.
func (c client) call(method, path, body string, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// callStatus sends an authenticated GET and decodes the answer into out when it is 200,
// returning the status.
func (c client) callStatus(method, path string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

type deviceJSON struct {
	ID                   string  `json:"id"`
	Name                 string  `json:"name"`
	Status               string  `json:"status"`
	PhoneNumber          *string `json:"phoneNumber"`
	PushName             *string `json:"pushName"`
	LastDisconnectReason *string `json:"lastDisconnectReason"`
	LastConnectedAt      *string `json:"lastConnectedAt"`
}

// waitStatus polls the device until it has the status, or fails after a few seconds.
func (c client) waitStatus(id, status string) deviceJSON {
	c.t.Helper()
	return c.waitStatusWithin(id, status, 5*time.Second)
}

// waitStatusWithin polls the device until it has the status, or fails after timeout.
func (c client) waitStatusWithin(id, status string, timeout time.Duration) deviceJSON {
	c.t.Helper()
	var d deviceJSON
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c.call("GET", "/api/v1/devices/"+id, "", http.StatusOK, &d)
		if d.Status == status {
			return d
		}
	}
	c.t.Fatalf("device %s is %s, want %s", id, d.Status, status)
	return d
}
