// Package devicetest holds the contract every device.Repository must meet, as a test
// suite that each implementation runs against itself.
package devicetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
)

// RunRepositoryContract runs the contract against repositories made by newRepo, which
// must return an empty repository each time it is called.
func RunRepositoryContract(t *testing.T, newRepo func(t *testing.T) device.Repository) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)

	t.Run("create then get returns every field", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "Sales phone", t0)
		must(t, d.Connect(t0.Add(time.Second)))
		must(t, d.ShowQR("2@qr", t0.Add(time.Minute), t0.Add(2*time.Second)))
		must(t, d.Authenticate(device.Link{JID: "15551234567.0:3@s.whatsapp.net", PhoneNumber: "15551234567", PushName: "Ann", BusinessName: "Ann's"}, t0.Add(3*time.Second)))
		must(t, d.MarkReady("Ann B", t0.Add(4*time.Second)))
		must(t, r.Create(ctx, d))

		got, err := r.Get(ctx, d.ID())
		must(t, err)
		if g, w := got.Snapshot(), d.Snapshot(); g != w {
			t.Fatalf("stored device differs:\n got %+v\nwant %+v", g, w)
		}
	})

	t.Run("QR code and its expiry are kept", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "QR", t0)
		must(t, d.Connect(t0))
		must(t, d.ShowQR("2@abc,def", t0.Add(time.Minute), t0))
		must(t, r.Create(ctx, d))
		got, err := r.Get(ctx, d.ID())
		must(t, err)
		code, exp, ok := got.CurrentQR(t0.Add(time.Second))
		if !ok || code != "2@abc,def" || !exp.Equal(t0.Add(time.Minute)) {
			t.Fatalf("CurrentQR = %q %v %v", code, exp, ok)
		}
	})

	t.Run("count by status", func(t *testing.T) {
		r := newRepo(t)
		counts, err := r.Count(ctx)
		must(t, err)
		if len(counts) != 0 {
			t.Fatalf("empty repository counts %v", counts)
		}
		for i, connect := range []bool{false, true, true} {
			d := mustNew(t, fmt.Sprint("count ", i), t0)
			if connect {
				must(t, d.Connect(t0))
			}
			must(t, r.Create(ctx, d))
		}
		counts, err = r.Count(ctx)
		must(t, err)
		if len(counts) != 2 || counts[device.StatusCreated] != 1 || counts[device.StatusConnecting] != 2 {
			t.Fatalf("counts %v, want 1 created and 2 connecting", counts)
		}
	})

	t.Run("unknown id is not found", func(t *testing.T) {
		r := newRepo(t)
		id := device.NewID(t0)
		if _, err := r.Get(ctx, id); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Get: %v, want not found", err)
		}
		if _, err := r.Update(ctx, id, func(*device.Device) error { return nil }); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Update: %v, want not found", err)
		}
		if err := r.Delete(ctx, id, func(*device.Device) error { return nil }); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Delete: %v, want not found", err)
		}
	})

	t.Run("update stores the change and returns the changed device", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "old", t0)
		must(t, r.Create(ctx, d))
		got, err := r.Update(ctx, d.ID(), func(d *device.Device) error {
			if err := d.Rename("new", t0.Add(time.Hour)); err != nil {
				return err
			}
			return d.Connect(t0.Add(time.Hour))
		})
		must(t, err)
		// The state change went to the event log with the change: the device returned
		// carries nothing left to publish.
		if events := got.PullEvents(); len(events) != 0 {
			t.Fatalf("returned device carries events %v, want none: they belong to the log", events)
		}
		stored, err := r.Get(ctx, d.ID())
		must(t, err)
		s := stored.Snapshot()
		if s.Name != "new" || s.Status != device.StatusConnecting || !s.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("stored %+v", s)
		}
	})

	t.Run("update that fails stores nothing", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "keep", t0)
		must(t, r.Create(ctx, d))
		boom := errors.New("boom")
		_, err := r.Update(ctx, d.ID(), func(d *device.Device) error {
			must(t, d.Rename("changed", t0.Add(time.Hour)))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update: %v, want the function's error", err)
		}
		stored, err := r.Get(ctx, d.ID())
		must(t, err)
		if s := stored.Snapshot(); s.Name != "keep" || !s.UpdatedAt.Equal(t0) {
			t.Fatalf("stored %+v after a failed update", s)
		}
	})

	t.Run("concurrent updates are serialized", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "n0", t0)
		must(t, r.Create(ctx, d))
		// Each update renames n<k> to n<k+1>; a lost update would leave a lower number.
		const workers, each = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					_, err := r.Update(ctx, d.ID(), func(d *device.Device) error {
						var n int
						fmt.Sscanf(d.Snapshot().Name, "n%d", &n)
						return d.Rename(fmt.Sprintf("n%d", n+1), t0)
					})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		got, err := r.Get(ctx, d.ID())
		must(t, err)
		if name := got.Snapshot().Name; name != fmt.Sprintf("n%d", workers*each) {
			t.Fatalf("name after %d increments = %s", workers*each, name)
		}
	})

	t.Run("delete removes the device", func(t *testing.T) {
		r := newRepo(t)
		d := mustNew(t, "gone", t0)
		must(t, r.Create(ctx, d))
		must(t, r.Delete(ctx, d.ID(), func(*device.Device) error { return nil }))
		if _, err := r.Get(ctx, d.ID()); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("Get after delete: %v", err)
		}
	})

	t.Run("list pages oldest first and filters by status", func(t *testing.T) {
		r := newRepo(t)
		var ids []device.ID
		for i := range 5 {
			d := mustNew(t, fmt.Sprintf("d%d", i), t0.Add(time.Duration(i)*time.Second))
			if i%2 == 1 {
				must(t, d.Connect(t0))
			}
			must(t, r.Create(ctx, d))
			ids = append(ids, d.ID())
		}
		page, err := r.List(ctx, device.Filter{Limit: 2, Offset: 1})
		must(t, err)
		if page.Total != 5 || len(page.Devices) != 2 || page.Devices[0].ID() != ids[1] || page.Devices[1].ID() != ids[2] {
			t.Fatalf("page 2 of 2-sized pages: total %d, %v", page.Total, idsOf(page))
		}
		page, err = r.List(ctx, device.Filter{Limit: 10, Statuses: []device.Status{device.StatusConnecting}})
		must(t, err)
		if page.Total != 2 || len(page.Devices) != 2 || page.Devices[0].ID() != ids[1] || page.Devices[1].ID() != ids[3] {
			t.Fatalf("connecting devices: total %d, %v", page.Total, idsOf(page))
		}
		page, err = r.List(ctx, device.Filter{Limit: 10, Statuses: []device.Status{device.StatusReady}})
		must(t, err)
		if page.Total != 0 || len(page.Devices) != 0 {
			t.Fatalf("ready devices: total %d, %v", page.Total, idsOf(page))
		}
		page, err = r.List(ctx, device.Filter{Limit: 10, Offset: 10})
		must(t, err)
		if page.Total != 5 || len(page.Devices) != 0 {
			t.Fatalf("past the end: total %d, %v", page.Total, idsOf(page))
		}
		got, err := r.IDs(ctx, []device.Status{device.StatusConnecting, device.StatusReady})
		must(t, err)
		if !slices.Equal(got, []device.ID{ids[1], ids[3]}) {
			t.Fatalf("IDs of connecting and ready devices = %v, want %v", got, []device.ID{ids[1], ids[3]})
		}
		if got, err := r.IDs(ctx, nil); err != nil || !slices.Equal(got, ids) {
			t.Fatalf("IDs of all = %v %v, want %v oldest first", got, err, ids)
		}
	})

	t.Run("ping", func(t *testing.T) {
		must(t, newRepo(t).Ping(ctx))
	})
}

func idsOf(p device.Page) []device.ID {
	var ids []device.ID
	for _, d := range p.Devices {
		ids = append(ids, d.ID())
	}
	return ids
}

func mustNew(t *testing.T, name string, now time.Time) *device.Device {
	t.Helper()
	d, err := device.New(name, now)
	must(t, err)
	d.PullEvents()
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
