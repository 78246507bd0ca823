// Package clustertest holds the contract every cluster.Leases must meet.
package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
)

// RunLeasesContract runs the contract against the empty stores newLeases makes.
func RunLeasesContract(t *testing.T, newLeases func(t *testing.T) cluster.Leases) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ttl := 10 * time.Second
	id := device.NewID(t0)

	t.Run("one owner at a time, a new generation for each claim", func(t *testing.T) {
		l := newLeases(t)
		a, ok, err := l.Claim(ctx, id, "A", t0, t0.Add(ttl))
		if err != nil || !ok || a.Owner != "A" || a.Generation != 1 {
			t.Fatalf("first claim: %+v %v %v", a, ok, err)
		}
		held, ok, err := l.Claim(ctx, id, "B", t0.Add(time.Second), t0.Add(time.Second+ttl))
		if err != nil || ok || held.Owner != "A" {
			t.Fatalf("claim of a held lease: %+v %v %v, want refused, held by A", held, ok, err)
		}
		if renewed, err := l.Renew(ctx, "B", []device.ID{id}, t0.Add(2*ttl)); err != nil || len(renewed) != 0 {
			t.Fatalf("B renewed A's lease: %v %v", renewed, err)
		}
		if renewed, err := l.Renew(ctx, "A", []device.ID{id}, t0.Add(ttl+5*time.Second)); err != nil || len(renewed) != 1 {
			t.Fatalf("A's renewal: %v %v", renewed, err)
		}
		if _, ok, _ := l.Claim(ctx, id, "B", t0.Add(ttl+time.Second), t0.Add(2*ttl)); ok {
			t.Fatal("B claimed a lease A had renewed")
		}
		b, ok, err := l.Claim(ctx, id, "B", t0.Add(ttl+6*time.Second), t0.Add(3*ttl))
		if err != nil || !ok || b.Owner != "B" || b.Generation != 2 {
			t.Fatalf("claim of an expired lease: %+v %v %v, want B's, generation 2", b, ok, err)
		}
		got, ok, err := l.Get(ctx, id)
		if err != nil || !ok || got.Owner != "B" || got.Generation != 2 || !got.Expires.Equal(t0.Add(3*ttl)) {
			t.Fatalf("Get = %+v %v %v", got, ok, err)
		}
	})

	t.Run("released leases are free at once and counted no more", func(t *testing.T) {
		l := newLeases(t)
		other := device.NewID(t0.Add(time.Millisecond))
		for _, d := range []device.ID{id, other} {
			if _, ok, err := l.Claim(ctx, d, "A", t0, t0.Add(ttl)); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
		}
		if held, err := l.Held(ctx, t0); err != nil || held["A"] != 2 {
			t.Fatalf("Held = %v %v, want A: 2", held, err)
		}
		if err := l.Release(ctx, "A", []device.ID{id}, t0); err != nil {
			t.Fatal(err)
		}
		if held, err := l.Held(ctx, t0); err != nil || held["A"] != 1 {
			t.Fatalf("Held after release = %v %v, want A: 1", held, err)
		}
		if _, ok, err := l.Claim(ctx, id, "B", t0.Add(time.Millisecond), t0.Add(ttl)); err != nil || !ok {
			t.Fatalf("B could not claim a released lease: %v %v", ok, err)
		}
		holders, err := l.Holders(ctx, t0.Add(2*time.Millisecond))
		if err != nil || len(holders) != 2 || holders[id] != "B" || holders[other] != "A" {
			t.Fatalf("Holders = %v %v, want %s: B, %s: A", holders, err, id, other)
		}
		if holders, err := l.Holders(ctx, t0.Add(ttl)); err != nil || len(holders) != 0 {
			t.Fatalf("Holders once every lease expired = %v %v, want none", holders, err)
		}
	})

	t.Run("instances are alive until their beat expires", func(t *testing.T) {
		l := newLeases(t)
		if err := l.Beat(ctx, cluster.Instance{ID: "A", Address: "http://a"}, t0.Add(ttl)); err != nil {
			t.Fatal(err)
		}
		if err := l.Beat(ctx, cluster.Instance{ID: "B", Address: "http://b"}, t0.Add(2*ttl)); err != nil {
			t.Fatal(err)
		}
		live, err := l.Live(ctx, t0.Add(ttl+time.Second))
		if err != nil || len(live) != 1 || live[0] != (cluster.Instance{ID: "B", Address: "http://b"}) {
			t.Fatalf("Live = %v %v, want B only", live, err)
		}
	})
}
