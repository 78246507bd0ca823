package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/domain/device"
)

// BenchmarkUpdate measures the store's side of every session event: a device read,
// changed and written back in one transaction.
func BenchmarkUpdate(b *testing.B) {
	for _, tc := range []struct {
		name string
		repo func(b *testing.B) device.Repository
	}{
		{"memory", func(*testing.B) device.Repository { return memory.NewStore().Devices }},
		{"sqlite", func(b *testing.B) device.Repository { db, _ := dbtest.SQLite(b); return database.NewDevices(db) }},
		{"postgres", func(b *testing.B) device.Repository { return database.NewDevices(dbtest.Postgres(b)) }},
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
