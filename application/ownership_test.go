package application_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
)

// instance is one gateway of several sharing a store and its leases, with a WhatsApp
// client of its own: a session runs on the instance whose client has it.
type instance struct {
	app  application.App
	wa   *memory.WhatsApp
	obs  *recordingObserver
	stop context.CancelFunc // ends its ownership loop without releasing: it dies
}

// fastLeases lets the tests see takeovers within a fraction of a second.
var fastLeases = application.LeaseTiming{TTL: 300 * time.Millisecond, Renew: 60 * time.Millisecond, Scan: 30 * time.Millisecond}

func startInstance(t *testing.T, name string, store memory.Store, leases cluster.Leases) *instance {
	t.Helper()
	in := &instance{wa: memory.NewWhatsApp(), obs: &recordingObserver{}}
	in.app = runFeed(t, func(events device.EventLog) application.App {
		return application.New(store.Devices, store.Messages, events, leases, application.Instance{ID: name, Timing: fastLeases},
			memory.NewKeys(), in.wa, memory.NewPublisher(), memory.NewFetcher(), memoryHooks(), time.Now, in.obs, quiet())
	}, store.Log)
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); in.app.Commands.Ownership.Run(c, name+":3000") }()
	in.stop = func() { cancel(); <-done }
	t.Cleanup(in.stop)
	return in
}

// runningOn tells, for each device, which instances run its session.
func runningOn(ids []string, ins ...*instance) map[string][]int {
	out := map[string][]int{}
	for _, id := range ids {
		for i, in := range ins {
			if in.wa.Connected(device.ID(id)) {
				out[id] = append(out[id], i)
			}
		}
	}
	return out
}

// eventually fails the test unless cond holds within 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
	}
}

// connectNew creates n devices through in and connects them; it returns their ids.
func connectNew(t *testing.T, in *instance, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		d, err := in.app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "d"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
		ids[i] = d.ID
	}
	return ids
}

// countingLeases counts the leases read one at a time.
type countingLeases struct {
	*memory.Leases
	gets atomic.Int64
}

func (l *countingLeases) Get(ctx context.Context, id device.ID) (cluster.Lease, bool, error) {
	l.gets.Add(1)
	return l.Leases.Get(ctx, id)
}

// TestScanReadsHoldersAtOnce: an instance under its fair share whose live devices are
// all held by another learns who holds them in one read per scan, not one read per
// device (with 10,000 devices, 10,000 reads every scan), and claims none of them.
func TestScanReadsHoldersAtOnce(t *testing.T) {
	store, leases := memory.NewStore(), &countingLeases{Leases: memory.NewLeases()}
	a := startInstance(t, "a", store, leases)
	ids := connectNew(t, a, 20)
	b := startInstance(t, "b", store, leases)
	eventually(t, "both instances alive", func() bool {
		live, err := leases.Live(ctx, time.Now())
		return err == nil && len(live) == 2
	})
	leases.gets.Store(0)
	time.Sleep(10 * fastLeases.Scan) // B, holding none of its share of 10, scans
	if n := leases.gets.Load(); n != 0 {
		t.Fatalf("the scans read %d leases one by one, want none", n)
	}
	for id, on := range runningOn(ids, a, b) {
		if !slices.Equal(on, []int{0}) {
			t.Fatalf("device %s runs on %v, want on A alone", id, on)
		}
	}
}

// TestOwnership spreads the sessions of two instances evenly, stops a session whose
// device was stopped or deleted through the other instance, and takes a dead instance's
// sessions over once its leases expire, each session running on one instance at a time.
func TestOwnership(t *testing.T) {
	store, leases := memory.NewStore(), memory.NewLeases()
	a, b := startInstance(t, "a", store, leases), startInstance(t, "b", store, leases)
	eventually(t, "both instances alive", func() bool {
		live, err := leases.Live(ctx, time.Now())
		return err == nil && len(live) == 2
	})
	ids := connectNew(t, a, 4)
	spread := func() []int {
		n := make([]int, 2)
		for _, on := range runningOn(ids, a, b) {
			for _, i := range on {
				n[i]++
			}
		}
		return n
	}
	eventually(t, "4 sessions spread 2/2", func() bool { return slices.Equal(spread(), []int{2, 2}) })

	// Stopped and deleted through A, their sessions on B end: B's API was not asked.
	var onB []string
	for id, on := range runningOn(ids, a, b) {
		if slices.Equal(on, []int{1}) {
			onB = append(onB, id)
		}
	}
	if _, err := a.app.Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: onB[0]}); err != nil {
		t.Fatal(err)
	}
	if err := a.app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: onB[1]}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B stops the sessions of the devices stopped and deleted through A", func() bool {
		return !b.wa.Connected(device.ID(onB[0])) && !b.wa.Connected(device.ID(onB[1]))
	})
	if a.wa.Connected(device.ID(onB[0])) {
		t.Fatal("the stopped device's session started on A")
	}
	if claimed, released := b.obs.count(application.LeaseClaimed), b.obs.count(application.LeaseReleased); claimed != 2 || released != 2 {
		t.Fatalf("B's observer counts %d leases claimed and %d released, want 2 and 2", claimed, released)
	}
	rest := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(onB, id) })

	// B dies without letting go: A takes its sessions over once their leases expire.
	// Connect one device on B first, so that it has one to lose.
	if _, err := b.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: onB[0]}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the device connected again runs on one instance", func() bool { return len(runningOn([]string{onB[0]}, a, b)[onB[0]]) == 1 })
	rest = append(rest, onB[0])
	b.stop()
	died := time.Now()
	eventually(t, "A runs every live session", func() bool {
		for _, id := range rest {
			if !a.wa.Connected(device.ID(id)) {
				return false
			}
		}
		return true
	})
	if took := time.Since(died); took < fastLeases.TTL-fastLeases.Renew {
		t.Fatalf("A took over after %v, before the dead instance's leases could expire", took)
	}
}

// runningWhatsApp reports every session as running already, as the WhatsApp client does
// when another request started it first.
type runningWhatsApp struct{ device.WhatsAppClient }

func (runningWhatsApp) Connect(context.Context, device.Session, device.SessionHandler) error {
	return domain.Errorf(domain.KindConflict, "device already has a running session")
}

// A connect whose session is already running succeeds, and leaves the device
// connecting, not failed.
func TestConnectFindsItsSessionRunning(t *testing.T) {
	store := memory.NewStore()
	app := runFeed(t, func(events device.EventLog) application.App {
		return application.New(store.Devices, store.Messages, events, memory.NewLeases(), application.Instance{ID: "a", Timing: application.DefaultLeaseTiming},
			memory.NewKeys(), runningWhatsApp{memory.NewWhatsApp()}, memory.NewPublisher(), memory.NewFetcher(), memoryHooks(), time.Now, application.NoObserver{}, quiet())
	}, store.Log)
	d, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID})
	if err != nil || got.Status != "connecting" {
		t.Fatalf("connect: %+v %v, want the device connecting", got, err)
	}
	if now, _ := app.Queries.GetDevice.Handle(ctx, application.GetDevice{ID: d.ID}); now.Status != "connecting" {
		t.Fatalf("the device is %s, want still connecting", now.Status)
	}
}
