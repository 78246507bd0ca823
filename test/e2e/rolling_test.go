package e2e

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/test/wasim"
)

// TestRollingRestartLosesNothing restarts three gateway processes one after the other
// (SIGTERM, then start again) while contacts keep writing to their devices: every
// message is in the event log exactly once, in the order it was sent to its device, and
// no device ever has two connections to WhatsApp at a time.
func TestRollingRestartLosesNothing(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	gws := startInstances(t, sim, dbtest.PostgresURL(t), "")
	const devices = 3
	ids, phones := make([]string, devices), make([]string, devices)
	for i := range ids {
		phones[i] = "1555800" + fmt.Sprintf("%04d", i)
		ids[i] = linkDevice(t, gws[i].api, sim, phones[i])
	}

	stop := make(chan struct{})
	sent := make([]int, devices) // messages sent to each device, m0 … m<n-1>
	var wg sync.WaitGroup
	for i := range devices {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15558999999", To: phones[i], Text: "m" + strconv.Itoa(n)}); err != nil {
					t.Error(err)
					return
				}
				sent[i] = n + 1
			}
		})
	}
	for _, g := range gws {
		time.Sleep(time.Second)
		g.terminate()
		g.start()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	api := gws[0].api
	for i, id := range ids {
		var texts []string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if texts = messageTexts(t, api, "/api/v1/devices/"+id+"/events"); len(texts) >= sent[i] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("device %d: %d of %d messages in the log a minute after the restarts", i, len(texts), sent[i])
			}
		}
		checkExactlyOnce(t, "device "+strconv.Itoa(i), texts, sent[i])
	}
	t.Logf("rolling restart of 3 instances: %v messages sent to %d devices, each stored once, in order", sent, devices)
	if n := sim.Stats().MaxConcurrentLoginsPerDevice; n != 1 {
		t.Fatalf("a device had %d connections to WhatsApp at once", n)
	}
}
