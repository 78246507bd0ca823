package database_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// BenchmarkUpdate measures the store's side of every session event: a device read,
// changed and written back in one transaction.
func BenchmarkUpdate(b *testing.B) {
	for _, tc := range []struct {
		name string
		repo func(b *testing.B) device.Repository
	}{
		{"memory", func(*testing.B) device.Repository { return memory.NewStore().Devices }},
		{"sqlite", func(b *testing.B) device.Repository { db, _ := dbtest.SQLite(b); return database.NewStore(db).Devices }},
		{"postgres", func(b *testing.B) device.Repository { return database.NewStore(dbtest.Postgres(b)).Devices }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			repo := tc.repo(b)
			ctx := context.Background()
			d, err := device.New("bench", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if err := repo.Create(ctx, d); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := repo.Update(ctx, d.ID(), func(d *device.Device) error {
					return d.Rename("bench", time.Now())
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReceive measures storing a received message with its event, from 16 devices
// at once (as many sessions store concurrently): ns/op is the time per message over all
// of them, so that it shows how appends to the one event log share the database.
func BenchmarkReceive(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(b *testing.B) device.Messages
	}{
		{"sqlite", func(b *testing.B) device.Messages { db, _ := dbtest.SQLite(b); return database.NewStore(db).Messages }},
		{"postgres", func(b *testing.B) device.Messages { return database.NewStore(dbtest.Postgres(b)).Messages }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			msgs := tc.open(b)
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				id := device.NewID(time.Now())
				for pb.Next() {
					i := n.Add(1)
					m := message.Message{ID: "M" + strconv.FormatInt(i, 10), Chat: "1555@s.whatsapp.net", Type: message.TypeText, Text: "hi", Timestamp: time.Now()}
					if _, err := msgs.Receive(context.Background(), device.NewMessageReceived(id, m, time.Now()), nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLeaseScan measures what the lease scan reads every 2 s with 10,000 live
// devices, all leased: the live devices' ids in one read (ids) against the device rows
// a page of 500 at a time (pages, how it read them before), and who holds their leases
// in one read (holders) against one read per device (get-each, before).
func BenchmarkLeaseScan(b *testing.B) {
	const n = 10_000
	db, _ := dbtest.SQLite(b)
	store, leases := database.NewStore(db), database.NewLeases(db)
	ctx := context.Background()
	now := time.Now()
	ids := make([]device.ID, n)
	for i := range ids {
		d, err := device.New("d"+strconv.Itoa(i), now.Add(time.Duration(i)*time.Microsecond))
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Connect(now); err != nil {
			b.Fatal(err)
		}
		if err := store.Devices.Create(ctx, d); err != nil {
			b.Fatal(err)
		}
		if _, _, err := leases.Claim(ctx, d.ID(), "a", now, now.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		ids[i] = d.ID()
	}
	live := []device.Status{device.StatusConnecting}
	b.Run("ids", func(b *testing.B) {
		for b.Loop() {
			if got, err := store.Devices.IDs(ctx, live); err != nil || len(got) != n {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("pages", func(b *testing.B) {
		for b.Loop() {
			for offset := 0; offset < n; offset += 500 {
				if _, err := store.Devices.List(ctx, device.Filter{Statuses: live, Limit: 500, Offset: offset}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("holders", func(b *testing.B) {
		for b.Loop() {
			if got, err := leases.Holders(ctx, now); err != nil || len(got) != n {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("get-each", func(b *testing.B) {
		for b.Loop() {
			for _, id := range ids {
				if _, _, err := leases.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("renew", func(b *testing.B) {
		for b.Loop() {
			if got, err := leases.Renew(ctx, "a", ids, now.Add(time.Hour)); err != nil || len(got) != n {
				b.Fatal(len(got), err)
			}
		}
	})
}
