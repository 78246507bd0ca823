//go:build wireinject

package bootstrap

import (
	"context"
	"log/slog"

	"github.com/google/wire"

	"github.com/wagate/wagate/adapters/outbound/socketio"
	"github.com/wagate/wagate/domain/device"
)

// build wires the gateway as the binary runs it (see Build).
func build(ctx context.Context, cfg Config, log *slog.Logger) (*Gateway, func(), error) {
	wire.Build(coreSet, databaseSet, whatsAppSet,
		wire.Bind(new(device.EventPublisher), new(*socketio.Gateway)))
	return nil, nil, nil
}

// buildInMemory wires the gateway with every outbound adapter in memory (see
// BuildInMemory).
func buildInMemory(cfg Config, log *slog.Logger) (*InMemory, error) {
	wire.Build(coreSet, memoryStoreSet, memoryWhatsAppSet, recordingPublisherSet, wire.Struct(new(InMemory), "*"))
	return nil, nil
}
