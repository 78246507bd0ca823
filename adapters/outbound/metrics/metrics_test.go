package metrics_test

import (
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/metrics"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
)

// TestObserversDoNotAllocate: what the gateway reports on its hot paths (each request,
// event, message) costs no allocation once a series exists.
func TestObserversDoNotAllocate(t *testing.T) {
	m := metrics.New()
	observe := func() {
		m.ObserveRequest("GET", "/api/v1/devices/{id}", 200, time.Millisecond)
		m.ListenerConnected(true)
		m.ListenerDisconnected(false)
		m.EventEmitted("message")
		m.SlowListenerCut()
		m.SessionConnected()
		m.SessionDisconnected(device.ReasonStreamReplaced)
		m.ReconnectAttempt()
		m.MessageReceived(time.Millisecond)
		m.MessageSent(time.Millisecond, nil)
		m.LeaseChanged(application.LeaseClaimed)
		m.RedisFailed("read")
		m.RedisReachable(true)
	}
	observe() // the request's series is made on first use
	if n := testing.AllocsPerRun(100, observe); n != 0 {
		t.Fatalf("%v allocations per round of observations, want 0", n)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("GET", "/api/v1/devices/{id}", 200, time.Millisecond)
		}
	})
}
