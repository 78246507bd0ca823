package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/redis/redistest"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/test/wasim"
)

// BenchmarkAcrossInstances measures events crossing instances: two gateways on one
// PostgreSQL database, four devices whose sessions run on A, and a root-namespace
// listener on B, which hears of A's events through Redis ("redis"), or only through its
// feed's poll of the log every second without Redis ("poll"); "local" is the baseline,
// the listener on A itself. Contacts in the simulator write to the four devices.
//
//   - burst: b.N messages sent at once, spread over the devices; msgs/s is b.N over the
//     time until the listener has heard the last one.
//   - one-by-one: each message is sent once the previous one was heard; p50-ms and p99-ms
//     are the times from sending to hearing.
func BenchmarkAcrossInstances(b *testing.B) {
	for _, path := range []string{"local", "redis", "poll"} {
		for _, mode := range []string{"burst", "one-by-one"} {
			b.Run(path+"/"+mode, func(b *testing.B) { benchAcross(b, path, mode == "burst") })
		}
	}
}

func benchAcross(b *testing.B, path string, burst bool) {
	sim := wasim.Start(b)
	info := sim.Info()
	cfg := bootstrap.Config{APIKey: apiKey, DatabaseURL: dbtest.PostgresURL(b), EventRetention: time.Hour, MessageRetention: time.Hour,
		WhatsAppServerURL: info.ServerURL, WhatsAppServerRootKey: info.RootKey}
	if path != "poll" {
		cfg.RedisURL = redistest.Start(b).URL()
	}
	start := func() string {
		cfg.DataDir = b.TempDir()
		gw, cleanup, err := bootstrap.Build(context.Background(), cfg, quietLog())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(cleanup)
		base, stop := serve(b, gw)
		b.Cleanup(stop)
		return base
	}
	// B starts once A runs every session: it claims only devices nobody holds.
	a := start()
	const devices = 4
	phones := make([]string, devices)
	for i := range phones {
		phones[i] = fmt.Sprintf("155500091%02d", i)
		linkDevice(b, client{b, a}, sim, phones[i])
	}
	listenOn := a
	if path != "local" {
		listenOn = start()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := hearTexts(b, ctx, listenOn, "/")
	send := func(i int) error {
		_, err := sim.SendText(ctx, wasim.TextMessage{From: "15550009199", To: phones[i%devices], Text: "m" + strconv.Itoa(i)})
		return err
	}
	hear := func() string {
		select {
		case text := <-heard:
			return text
		case <-time.After(time.Minute):
			b.Fatal("a message was not heard within a minute")
			return ""
		}
	}

	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	t0 := time.Now()
	if burst {
		go sendAll(b, send)
		// The devices' messages interleave; each is heard once.
		seen := make(map[string]bool, b.N)
		for range b.N {
			text := hear()
			if seen[text] {
				b.Fatalf("%s heard twice", text)
			}
			seen[text] = true
		}
	} else {
		for i := range b.N {
			sent := time.Now()
			if err := send(i); err != nil {
				b.Fatal(err)
			}
			if text := hear(); text != "m"+strconv.Itoa(i) {
				b.Fatalf("heard %q, want m%d", text, i)
			}
			latencies = append(latencies, time.Since(sent))
		}
	}
	reportRates(b, time.Since(t0), latencies)
}
