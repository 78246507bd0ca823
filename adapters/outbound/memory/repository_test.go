package memory_test

import (
	"testing"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/cluster/clustertest"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/device/devicetest"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/key/keytest"
	"github.com/wagate/wagate/domain/webhook/webhooktest"
)

func TestRepository(t *testing.T) {
	devicetest.RunRepositoryContract(t, func(*testing.T) device.Repository { return memory.NewStore().Devices })
}

func TestKeys(t *testing.T) {
	keytest.RunRepositoryContract(t, func(*testing.T) key.Repository { return memory.NewKeys() })
}

func TestLog(t *testing.T) {
	devicetest.RunLogContract(t, func(*testing.T) devicetest.Store {
		s := memory.NewStore()
		return devicetest.Store{Devices: s.Devices, Messages: s.Messages, Log: s.Log}
	})
}

func TestLeases(t *testing.T) {
	clustertest.RunLeasesContract(t, func(*testing.T) cluster.Leases { return memory.NewLeases() })
}

func TestWebhooks(t *testing.T) {
	webhooktest.RunContract(t, func(*testing.T) webhooktest.Stores {
		w := memory.NewWebhooks()
		return webhooktest.Stores{Webhooks: w, Deliveries: w.Deliveries()}
	})
}
