package memory_test

import (
	"testing"

	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/device/devicetest"
)

func TestRepository(t *testing.T) {
	devicetest.RunRepositoryContract(t, func(*testing.T) device.Repository { return memory.NewRepository() })
}
