package whatsmeow

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/wagate/wagate/domain/device"
)

// The recorder catches two HandleSession calls of one device that overlap (and not calls
// of two devices that do).
func TestRecorderCatchesConcurrentCalls(t *testing.T) {
	for _, sameDevice := range []bool{true, false} {
		r := newRecorder(nil)
		a, b := newID(), newID()
		if sameDevice {
			b = a
		}
		entered, release := make(chan struct{}), make(chan struct{})
		first := make(chan struct{}, 1)
		first <- struct{}{}
		r.inside = func() { // holds the first call until the second is done
			select {
			case <-first:
				close(entered)
				<-release
			default:
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() { r.HandleSession(context.Background(), a, device.SessionConnected{}) })
		<-entered
		r.HandleSession(context.Background(), b, device.SessionConnected{})
		close(release)
		wg.Wait()

		caught := len(r.errs) == 1 && strings.Contains(r.errs[0], "concurrent HandleSession calls")
		if caught != sameDevice || (!sameDevice && len(r.errs) != 0) {
			t.Fatalf("same device %v: recorder errors %q", sameDevice, r.errs)
		}
	}
}
