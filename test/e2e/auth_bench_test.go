package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
)

// BenchmarkValidConnect measures how fast a client with a valid key connects (a Socket.io
// connection to the root namespace, or a REST call), on a quiet gateway and while a
// flood of wrong-key attempts arrives: 10,000 attempts from 200 loopback addresses
// (127.0.1.0-127.0.1.199), half REST calls and half Socket.io handshakes, from 8
// workers. The flood's addresses are throttled once they spend their budget; the valid
// client comes from 127.0.0.1 and is never held back by them. Metrics: ns/op is one valid
// connect; wrong/s the rate at which the flood was answered; throttled the share of the
// flood answered as throttled.
func BenchmarkValidConnect(b *testing.B) {
	for _, transport := range []string{"socketio", "rest"} {
		for _, flood := range []bool{false, true} {
			name := transport + "/quiet"
			if flood {
				name = transport + "/10k-wrong-keys"
			}
			b.Run(name, func(b *testing.B) { benchValidConnect(b, transport, flood) })
		}
	}
}

func benchValidConnect(b *testing.B, transport string, flood bool) {
	gw, err := bootstrap.BuildInMemory(bootstrap.Config{APIKey: apiKey}, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	base, stop := serve(b, gw.Gateway)
	defer stop()
	ctx := context.Background()
	connect := func() error {
		if transport == "rest" {
			req, _ := http.NewRequest("GET", base+"/api/v1/devices", nil)
			req.Header.Set("X-API-Key", apiKey)
			res, err := timedClient.Do(req)
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		}
		conn, answer, err := rawConnect(ctx, base, "127.0.0.1", "/", apiKey)
		if err != nil {
			return err
		}
		conn.CloseNow()
		if !strings.HasPrefix(answer, `40{"sid":`) {
			return fmt.Errorf("answer %q", answer)
		}
		return nil
	}
	if err := connect(); err != nil { // warm up
		b.Fatal(err)
	}

	var answered, throttled atomic.Int64
	var wg sync.WaitGroup
	floodCtx, endFlood := context.WithCancel(ctx)
	start := time.Now()
	if flood {
		attempts := make(chan int, 10_000)
		for i := range 10_000 {
			attempts <- i
		}
		close(attempts)
		for range 8 {
			wg.Go(func() {
				for i := range attempts {
					if floodCtx.Err() != nil {
						return
					}
					if wrongAttempt(floodCtx, base, fmt.Sprintf("127.0.1.%d", i%200), i%2 == 0) {
						throttled.Add(1)
					}
					answered.Add(1)
				}
			})
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := connect(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if flood {
		elapsed := time.Since(start)
		endFlood()
		wg.Wait()
		b.ReportMetric(float64(answered.Load())/elapsed.Seconds(), "wrong/s")
		b.ReportMetric(float64(throttled.Load())/float64(max(1, answered.Load())), "throttled")
	}
	endFlood()
}

// wrongAttempt makes one attempt with a wrong key from the given address, over REST or
// Socket.io, and reports whether it was answered as throttled.
func wrongAttempt(ctx context.Context, base, from string, rest bool) bool {
	if rest {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/devices", nil)
		req.Header.Set("X-API-Key", "wrong-key")
		res, err := fromAddress(from).Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusTooManyRequests
	}
	conn, answer, err := rawConnect(ctx, base, from, "/", "wrong-key")
	if err != nil {
		return false
	}
	conn.CloseNow()
	return refused(answer, "Too many failed authentication attempts: retry later")
}

var clients sync.Map // address -> *http.Client

// fromAddress is an HTTP client whose connections come from the given loopback address.
func fromAddress(from string) *http.Client {
	if c, ok := clients.Load(from); ok {
		return c.(*http.Client)
	}
	c, _ := clients.LoadOrStore(from, &http.Client{Transport: &http.Transport{DialContext: localDialer(from).DialContext}})
	return c.(*http.Client)
}
