// Package keytest holds the contract every key.Repository must meet, as a test suite
// that each implementation runs against itself.
package keytest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

// RunRepositoryContract runs the contract against repositories made by newRepo, which
// must return an empty repository each time it is called.
func RunRepositoryContract(t *testing.T, newRepo func(t *testing.T) key.Repository) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
	devices := []device.ID{device.NewID(t0), device.NewID(t0.Add(time.Millisecond))}

	t.Run("create then find by hash returns every field", func(t *testing.T) {
		r := newRepo(t)
		k, secret, err := key.New("ci", key.RoleOperator, devices, t0.Add(time.Hour), t0)
		must(t, err)
		must(t, r.Create(ctx, k))
		got, err := r.ByHash(ctx, key.HashOf(secret))
		must(t, err)
		if g, w := got.Snapshot(), k.Snapshot(); !reflect.DeepEqual(g, w) {
			t.Fatalf("stored key differs:\n got %+v\nwant %+v", g, w)
		}
	})

	t.Run("a key for every device and without expiry keeps both unset", func(t *testing.T) {
		r := newRepo(t)
		k, secret, err := key.New("all", key.RoleReadOnly, nil, time.Time{}, t0)
		must(t, err)
		must(t, r.Create(ctx, k))
		got, err := r.ByHash(ctx, key.HashOf(secret))
		must(t, err)
		if s := got.Snapshot(); len(s.Devices) != 0 || !s.ExpiresAt.IsZero() || !got.Access().AllDevices() {
			t.Fatalf("got %+v", s)
		}
	})

	t.Run("an unknown hash is not found", func(t *testing.T) {
		r := newRepo(t)
		_, err := r.ByHash(ctx, key.HashOf("wag_nothing"))
		if domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("err = %v, want not found", err)
		}
	})

	t.Run("list is oldest first and delete removes", func(t *testing.T) {
		r := newRepo(t)
		var ids []key.ID
		var secrets []string
		for i := range 3 {
			k, secret, err := key.New("k", key.RoleAdmin, nil, time.Time{}, t0.Add(time.Duration(2-i)*time.Minute))
			must(t, err)
			must(t, r.Create(ctx, k))
			ids = append([]key.ID{k.ID()}, ids...)
			secrets = append(secrets, secret)
		}
		all, err := r.List(ctx)
		must(t, err)
		if len(all) != 3 || all[0].ID() != ids[0] || all[2].ID() != ids[2] {
			t.Fatalf("list order wrong: %v, want %v", all, ids)
		}
		must(t, r.Delete(ctx, ids[1]))
		if err := r.Delete(ctx, ids[1]); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("second delete: %v, want not found", err)
		}
		if _, err := r.ByHash(ctx, key.HashOf(secrets[1])); domain.KindOf(err) != domain.KindNotFound {
			t.Fatalf("deleted key still found: %v", err)
		}
		all, err = r.List(ctx)
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("after delete: %d keys", len(all))
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
