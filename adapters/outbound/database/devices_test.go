package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/cluster/clustertest"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/device/devicetest"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/key/keytest"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/domain/webhook/webhooktest"
)

func TestDevicesSQLite(t *testing.T) {
	devicetest.RunRepositoryContract(t, func(t *testing.T) device.Repository {
		db, _ := dbtest.SQLite(t)
		return database.NewStore(db).Devices
	})
}

func TestDevicesPostgres(t *testing.T) {
	t.Parallel()
	devicetest.RunRepositoryContract(t, func(t *testing.T) device.Repository {
		return database.NewStore(dbtest.Postgres(t)).Devices
	})
}

func TestKeysSQLite(t *testing.T) {
	keytest.RunRepositoryContract(t, func(t *testing.T) key.Repository {
		db, _ := dbtest.SQLite(t)
		return database.NewKeys(db)
	})
}

func TestKeysPostgres(t *testing.T) {
	t.Parallel()
	keytest.RunRepositoryContract(t, func(t *testing.T) key.Repository {
		return database.NewKeys(dbtest.Postgres(t))
	})
}

func TestLogSQLite(t *testing.T) {
	devicetest.RunLogContract(t, func(t *testing.T) devicetest.Store {
		db, _ := dbtest.SQLite(t)
		s := database.NewStore(db)
		return devicetest.Store{Devices: s.Devices, Messages: s.Messages, Log: s.Events}
	})
}

func TestLogPostgres(t *testing.T) {
	t.Parallel()
	devicetest.RunLogContract(t, func(t *testing.T) devicetest.Store {
		s := database.NewStore(dbtest.Postgres(t))
		return devicetest.Store{Devices: s.Devices, Messages: s.Messages, Log: s.Events}
	})
}

func TestLeasesSQLite(t *testing.T) {
	clustertest.RunLeasesContract(t, func(t *testing.T) cluster.Leases {
		db, _ := dbtest.SQLite(t)
		return database.NewLeases(db)
	})
}

func TestLeasesPostgres(t *testing.T) {
	t.Parallel()
	clustertest.RunLeasesContract(t, func(t *testing.T) cluster.Leases { return database.NewLeases(dbtest.Postgres(t)) })
}

// A session's writes carry the fence of its lease: once another instance has claimed
// the lease, they are refused, and nothing of them is stored.
func TestFencedWrites(t *testing.T) {
	t.Parallel()
	for name, db := range map[string]*bun.DB{"sqlite": func() *bun.DB { db, _ := dbtest.SQLite(t); return db }(), "postgres": dbtest.Postgres(t)} {
		ctx := context.Background()
		s, leases := database.NewStore(db), database.NewLeases(db)
		now := time.Now()
		d, err := device.New("fenced", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Devices.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		a, _, err := leases.Claim(ctx, d.ID(), "A", now, now.Add(-time.Second)) // expired at once
		if err != nil {
			t.Fatal(err)
		}
		fenced := cluster.WithFence(ctx, cluster.Fence{Owner: "A", Generation: a.Generation})
		if _, err := s.Devices.Update(fenced, d.ID(), func(d *device.Device) error { return d.Connect(now) }); err != nil {
			t.Fatalf("%s: write under the current lease: %v", name, err)
		}
		if _, ok, err := leases.Claim(ctx, d.ID(), "B", now, now.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("%s: B's claim: %v %v", name, ok, err)
		}
		_, err = s.Devices.Update(fenced, d.ID(), func(d *device.Device) error { return d.ShowQR("2@qr", now.Add(time.Minute), now) })
		if domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("%s: write under a lease taken over: %v, want a conflict", name, err)
		}
		m := device.NewMessageReceived(d.ID(), message.Message{ID: "M1", Chat: "1@s.whatsapp.net", Sender: message.Sender{JID: "1@s.whatsapp.net"}}, now)
		if added, err := s.Messages.Receive(fenced, m, nil); added || domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("%s: message under a lease taken over: added %v, %v", name, added, err)
		}
		if recs, _ := s.Events.Read(ctx, device.LogQuery{Limit: 10}); len(recs) != 1 {
			t.Fatalf("%s: the log holds %d events, want the one of the fenced write that was allowed", name, len(recs))
		}
	}
}

func TestWebhooksSQLite(t *testing.T) {
	webhooktest.RunContract(t, func(t *testing.T) webhooktest.Stores {
		db, _ := dbtest.SQLite(t)
		w := database.NewWebhooks(db)
		return webhooktest.Stores{Webhooks: w, Deliveries: w.Deliveries()}
	})
}

func TestWebhooksPostgres(t *testing.T) {
	t.Parallel()
	webhooktest.RunContract(t, func(t *testing.T) webhooktest.Stores {
		w := database.NewWebhooks(dbtest.Postgres(t))
		return webhooktest.Stores{Webhooks: w, Deliveries: w.Deliveries()}
	})
}
