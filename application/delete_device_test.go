package application_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// A delete racing a connect leaves no session behind: the connect may start its session
// after the delete looked for one, and then no API can reach the deleted device to stop
// it. The race is run many times to hit both orders of the connect's check and the
// delete (see recheck).
func TestDeleteRacingConnectLeavesNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const rounds = 200
	for range rounds {
		d := f.create(t, "Phone")
		var (
			wg         sync.WaitGroup
			start      = make(chan struct{})
			connectErr error
			deleteErr  error
		)
		wg.Go(func() {
			<-start
			_, connectErr = f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID})
		})
		wg.Go(func() {
			<-start
			deleteErr = f.app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: d.ID})
		})
		close(start)
		wg.Wait()
		if deleteErr != nil {
			t.Fatalf("delete: %v", deleteErr)
		}
		if connectErr != nil && domain.KindOf(connectErr) != domain.KindNotFound {
			t.Fatalf("connect: %v, want success or not found", connectErr)
		}
		if f.wa.Connected(device.ID(d.ID)) {
			t.Fatalf("device %s was deleted but its session still runs (connect: %v)", d.ID, connectErr)
		}
	}
}

// The two orders the race above hits by chance, forced: a delete that runs whole between
// the connect's update and its session start, and a connect that runs whole between the
// delete's removal of the session and its deletion of the device.
func TestDeleteRacingConnectOrders(t *testing.T) {
	t.Parallel()
	for _, deleteFirst := range []bool{true, false} {
		store := memory.NewStore()
		repo, wa := &gatedRepo{Repository: store.Devices}, &gatedWhatsApp{WhatsApp: memory.NewWhatsApp()}
		app := application.New(repo, store.Messages, store.Log, memory.NewLeases(), application.Instance{ID: "test", Timing: application.DefaultLeaseTiming}, memory.NewKeys(), wa, memory.NewPublisher(), memory.NewFetcher(), memoryHooks(), time.Now, application.NoObserver{}, quiet())
		d, err := app.Commands.CreateDevice.Handle(ctx, application.CreateDevice{Name: "Phone"})
		if err != nil {
			t.Fatal(err)
		}
		connect := func() error {
			_, err := app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID})
			return err
		}
		del := func() error { return app.Commands.DeleteDevice.Handle(ctx, application.DeleteDevice{ID: d.ID}) }
		var inner, outer error
		if deleteFirst {
			wa.beforeConnect = func() { inner = del() }
			outer = connect()
			if inner != nil || domain.KindOf(outer) != domain.KindNotFound {
				t.Fatalf("delete inside connect: %v; connect: %v, want not found", inner, outer)
			}
		} else {
			repo.beforeDelete = func() { inner = connect() }
			outer = del()
			if inner != nil || outer != nil {
				t.Fatalf("connect inside delete: %v; delete: %v", inner, outer)
			}
		}
		if wa.Connected(device.ID(d.ID)) {
			t.Fatalf("delete first %v: the device is deleted but its session still runs", deleteFirst)
		}
	}
}

// gatedRepo runs beforeDelete (once) before deleting a device.
type gatedRepo struct {
	*memory.Repository
	beforeDelete func()
}

func (r *gatedRepo) Delete(ctx context.Context, id device.ID, fn func(*device.Device) error) error {
	if f := r.beforeDelete; f != nil {
		r.beforeDelete = nil
		f()
	}
	return r.Repository.Delete(ctx, id, fn)
}

// gatedWhatsApp runs beforeConnect (once) before starting a session.
type gatedWhatsApp struct {
	*memory.WhatsApp
	beforeConnect func()
}

func (w *gatedWhatsApp) Connect(ctx context.Context, s device.Session, h device.SessionHandler) error {
	if f := w.beforeConnect; f != nil {
		w.beforeConnect = nil
		f()
	}
	return w.WhatsApp.Connect(ctx, s, h)
}
