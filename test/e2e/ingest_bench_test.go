package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/test/wasim"
)

// BenchmarkIngest measures the way in: messages sent by a contact in the simulator,
// received by the gateway's whatsmeow session, stored with their event in one
// transaction, acknowledged to WhatsApp, and heard by a Socket.io listener (which the
// gateway only tells once the event is committed). One device, on SQLite and on
// PostgreSQL.
//
//   - burst: b.N messages sent at once; msgs/s is b.N over the time until the listener
//     has heard the last one.
//   - one-by-one: each message is sent once the previous one was heard; p50-ms and
//     p99-ms are the times from sending to hearing, without queueing.
func BenchmarkIngest(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"burst", "one-by-one"} {
			b.Run(db+"/"+mode, func(b *testing.B) { benchIngest(b, db, mode == "burst") })
		}
	}
}

func benchIngest(b *testing.B, db string, burst bool) {
	sim := wasim.Start(b)
	cfg := bootstrap.Config{APIKey: apiKey, DataDir: b.TempDir(), EventRetention: time.Hour, MessageRetention: time.Hour}
	if db == "postgres" {
		cfg.DatabaseURL = dbtest.PostgresURL(b)
	}
	info := sim.Info()
	cfg.WhatsAppServerURL, cfg.WhatsAppServerRootKey = info.ServerURL, info.RootKey
	gw, cleanup, err := bootstrap.Build(context.Background(), cfg, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	base, stop := serve(b, gw)
	defer stop()
	const phone, contact = "15550009001", "15550009002"
	id := linkDevice(b, client{b, base}, sim, phone)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := hearTexts(b, ctx, base, "/device/"+id)
	send := func(i int) error {
		_, err := sim.SendText(ctx, wasim.TextMessage{From: contact, To: phone, Text: "m" + strconv.Itoa(i)})
		return err
	}
	hear := func(i int) {
		select {
		case text := <-heard:
			if text != "m"+strconv.Itoa(i) {
				b.Fatalf("heard %q, want m%d", text, i)
			}
		case <-time.After(time.Minute):
			b.Fatalf("message m%d not heard within a minute", i)
		}
	}

	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	if burst {
		go sendAll(b, send)
		for i := range b.N {
			hear(i)
		}
	} else {
		for i := range b.N {
			t0 := time.Now()
			if err := send(i); err != nil {
				b.Fatal(err)
			}
			hear(i)
			latencies = append(latencies, time.Since(t0))
		}
	}
	reportRates(b, time.Since(start), latencies)
}

// sendAll sends b.N messages, in order; a failure fails the benchmark, whose listener
// then waits in vain.
func sendAll(b *testing.B, send func(i int) error) {
	for i := range b.N {
		if err := send(i); err != nil {
			b.Error(err)
			return
		}
	}
}

// reportRates reports msgs/s over elapsed and, when there are latencies, their p50 and
// p99.
func reportRates(b *testing.B, elapsed time.Duration, latencies []time.Duration) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if len(latencies) > 0 {
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// hearTexts connects a raw websocket Socket.io listener to namespace and sends the text
// of every message event it hears to the channel it returns, until ctx ends.
func hearTexts(b *testing.B, ctx context.Context, base, namespace string) <-chan string {
	conn, answer, err := rawConnect(ctx, base, "127.0.0.1", namespace, apiKey)
	if err != nil || !strings.HasPrefix(answer, "40") {
		b.Fatalf("listener: %q %v", answer, err)
	}
	b.Cleanup(func() { conn.CloseNow() })
	heard := make(chan string, 1<<16)
	go func() {
		for {
			_, frame, err := conn.Read(ctx)
			if err != nil {
				return
			}
			f := string(frame)
			if f == "2" {
				_ = conn.Write(ctx, websocket.MessageText, []byte("3"))
				continue
			}
			if i := strings.Index(f, `["message",`); i >= 0 {
				var ev []json.RawMessage
				var p struct{ Message struct{ Text string } }
				if json.Unmarshal([]byte(f[i:]), &ev) == nil && len(ev) > 1 && json.Unmarshal(ev[1], &p) == nil {
					heard <- p.Message.Text
				}
			}
		}
	}()
	return heard
}
