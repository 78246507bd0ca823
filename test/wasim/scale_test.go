package wasim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

// Test100Devices pairs and connects 100 whatsmeow clients, each on its own
// account and SQLite store, a few at a time, checks that they are all
// logged in at once, and that each gets its own message.
func Test100Devices(t *testing.T) {
	if testing.Short() {
		t.Skip("100 devices: skipped in -short mode")
	}
	const n = 100
	const parallel = 8
	srv := startServer(t)
	clients := make([]*testClient, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			clients[i] = pairQR(t, srv, fmt.Sprintf("1555100%04d", i))
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st := srv.Stats()
	if st.PairedDevices != n || st.LoggedIn != n || st.Accounts != n || st.MaxConcurrentLoginsPerDevice != 1 {
		t.Fatalf("stats = %+v, want %d paired and logged in, max 1 login per device", st, n)
	}
	ctx := context.Background()
	for i, tc := range clients {
		text := fmt.Sprintf("hello device %d", i)
		if _, err := srv.SendText(ctx, wasim.TextMessage{From: "15559999999", To: fmt.Sprintf("1555100%04d", i), Text: text}); err != nil {
			t.Fatal(err)
		}
		if got := waitFor[*events.Message](t, tc.recorder).Message.GetConversation(); got != text {
			t.Fatalf("device %d got %q, want %q", i, got, text)
		}
	}
}
