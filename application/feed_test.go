package application_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
)

// relay connects feeds in memory as Redis connects instances: an announcement wakes
// every feed but the announcer's.
type relay struct {
	mu        sync.Mutex
	wakes     map[int]func()
	announced map[int][]device.EventID
}

type relayEnd struct {
	r *relay
	n int
}

func (e relayEnd) Announce(last device.EventID) {
	e.r.mu.Lock()
	e.r.announced[e.n] = append(e.r.announced[e.n], last)
	var others []func()
	for n, wake := range e.r.wakes {
		if n != e.n {
			others = append(others, wake)
		}
	}
	e.r.mu.Unlock()
	for _, wake := range others {
		wake()
	}
}

func (e relayEnd) Run(ctx context.Context, wake func()) {
	e.r.mu.Lock()
	e.r.wakes[e.n] = wake
	e.r.mu.Unlock()
	<-ctx.Done()
}

func (r *relay) announcedBy(n int) []device.EventID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.announced[n])
}

// instances builds n apps on one store, as gateways on one database, with feeds that
// poll once a minute: within a test, events reach another instance's publisher only
// when the relay (when not nil) wakes its feed.
func instances(t *testing.T, store memory.Store, r *relay, n int) ([]application.App, []*memory.Publisher) {
	t.Helper()
	var apps []application.App
	var pubs []*memory.Publisher
	leases := memory.NewLeases()
	for i := range n {
		pub := memory.NewPublisher()
		app := runFeed(t, func(events device.EventLog) application.App {
			app := application.New(store.Devices, store.Messages, events, leases,
				application.Instance{ID: fmt.Sprint("instance-", i), Timing: application.DefaultLeaseTiming}, memory.NewKeys(), memory.NewWhatsApp(), pub, memory.NewFetcher(), memoryHooks(), time.Now, application.NoObserver{}, quiet())
			app.Commands.Feed.Poll = time.Minute
			if r != nil {
				app.Commands.Feed.Relay = relayEnd{r, i}
			}
			return app
		}, store.Log)
		apps, pubs = append(apps, app), append(pubs, pub)
	}
	for r != nil {
		r.mu.Lock()
		ready := len(r.wakes) == n
		r.mu.Unlock()
		if ready {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return apps, pubs
}

func ids(records []device.Record) []device.EventID {
	var out []device.EventID
	for _, r := range records {
		out = append(out, r.ID)
	}
	return out
}

// Events committed on one instance reach the others' listeners through the relay, in
// order and once; only the instance that committed them announces them.
func TestFeedsWakeEachOtherThroughTheRelay(t *testing.T) {
	store := memory.NewStore()
	r := &relay{wakes: map[int]func(){}, announced: map[int][]device.EventID{}}
	apps, pubs := instances(t, store, r, 3)
	d, err := apps[0].Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := apps[0].Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := apps[0].Commands.DisconnectDevice.Handle(ctx, application.DisconnectDevice{ID: d.ID}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := store.Log.Last(ctx)
	if err != nil || last < 6 {
		t.Fatalf("the log ends at %d (%v): want the events of 3 connects and disconnects", last, err)
	}
	all, err := store.Log.Read(ctx, device.LogQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i, pub := range pubs {
		err := pub.Wait(c, func(rs []device.Record) bool { return len(rs) > 0 && rs[len(rs)-1].ID == last })
		if got := ids(pub.Events()); err != nil || !slices.Equal(got, ids(all)) {
			t.Fatalf("instance %d published %v, want %v, each once", i, got, ids(all))
		}
	}
	if a := r.announcedBy(0); len(a) == 0 || a[len(a)-1] != last {
		t.Fatalf("instance 0 announced %v: want its last event, %d, last", a, last)
	}
	for _, i := range []int{1, 2} {
		if a := r.announcedBy(i); len(a) > 0 {
			t.Fatalf("instance %d announced %v, events it did not commit: announcements would echo", i, a)
		}
	}
}

// Without the relay, another instance hears of the events at its next poll only: what
// the test above sees within seconds is the relay's doing.
func TestFeedsWithoutRelayWaitForThePoll(t *testing.T) {
	store := memory.NewStore()
	apps, pubs := instances(t, store, nil, 2)
	d, err := apps[0].Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apps[0].Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pubs[0].Wait(c, func(rs []device.Record) bool { return len(rs) > 0 }); err != nil {
		t.Fatal("the instance that committed the events did not publish them")
	}
	time.Sleep(500 * time.Millisecond)
	if got := pubs[1].Events(); len(got) != 0 {
		t.Fatalf("the other instance published %v before its poll, without a relay", ids(got))
	}
}
