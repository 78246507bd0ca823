package database_test

import (
	"testing"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/device/devicetest"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/key/keytest"
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
