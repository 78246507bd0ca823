// Package application holds the gateway's use cases: one command or query per file, each
// a plain struct handled by a handler built once with the ports it needs.
package application

import (
	"context"
	"log/slog"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/message"
)

// App gathers the use cases; inbound adapters depend on it alone.
type App struct {
	Commands Commands
	Queries  Queries
}

// Commands change devices and keys.
type Commands struct {
	CreateDevice       CreateDeviceHandler
	RenameDevice       RenameDeviceHandler
	DeleteDevice       DeleteDeviceHandler
	ConnectDevice      ConnectDeviceHandler
	DisconnectDevice   DisconnectDeviceHandler
	LogoutDevice       LogoutDeviceHandler
	RequestPairingCode RequestPairingCodeHandler
	SendMessage        SendMessageHandler
	RestoreSessions    RestoreSessionsHandler
	CreateKey          CreateKeyHandler
	RevokeKey          RevokeKeyHandler
	// Sessions takes what WhatsApp sessions report; the WhatsApp client calls it.
	Sessions *SessionEventsHandler
}

// Queries read devices and keys.
type Queries struct {
	GetDevice   GetDeviceHandler
	ListDevices ListDevicesHandler
	GetQR       GetQRHandler
	GetMedia    GetMediaHandler
	ListKeys    ListKeysHandler
}

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time

// New builds every use case over the given ports.
func New(repo device.Repository, keys key.Repository, wa device.WhatsAppClient, pub device.EventPublisher, fetcher message.Fetcher, clock Clock, log *slog.Logger) App {
	p := publisher{pub: pub, log: log}
	sessions := &SessionEventsHandler{repo: repo, pub: p, clock: clock, log: log}
	return App{
		Commands: Commands{
			CreateDevice:       CreateDeviceHandler{repo: repo, clock: clock},
			RenameDevice:       RenameDeviceHandler{repo: repo, clock: clock},
			DeleteDevice:       DeleteDeviceHandler{repo: repo, wa: wa, pub: p, clock: clock},
			ConnectDevice:      ConnectDeviceHandler{repo: repo, wa: wa, pub: p, clock: clock, sessions: sessions, log: log},
			DisconnectDevice:   DisconnectDeviceHandler{repo: repo, wa: wa, pub: p, clock: clock},
			LogoutDevice:       LogoutDeviceHandler{repo: repo, wa: wa, pub: p, clock: clock},
			RequestPairingCode: RequestPairingCodeHandler{repo: repo, wa: wa},
			SendMessage:        SendMessageHandler{repo: repo, wa: wa, fetcher: fetcher},
			RestoreSessions:    RestoreSessionsHandler{repo: repo, wa: wa, pub: p, clock: clock, sessions: sessions, log: log},
			Sessions:           sessions,
			CreateKey:          CreateKeyHandler{keys: keys, devices: repo, clock: clock},
			RevokeKey:          RevokeKeyHandler{keys: keys},
		},
		Queries: Queries{
			GetDevice:   GetDeviceHandler{repo: repo},
			ListDevices: ListDevicesHandler{repo: repo},
			GetQR:       GetQRHandler{repo: repo, clock: clock},
			GetMedia:    GetMediaHandler{repo: repo, wa: wa},
			ListKeys:    ListKeysHandler{keys: keys},
		},
	}
}

// publisher publishes events after the change that produced them is stored. A failure
// to publish does not undo the change, so it is logged rather than returned.
type publisher struct {
	pub device.EventPublisher
	log *slog.Logger
}

func (p publisher) publish(ctx context.Context, events ...device.Event) {
	for _, e := range events {
		if err := p.pub.Publish(ctx, e); err != nil {
			p.log.ErrorContext(ctx, "publish event", "event", e.Name(), "device", e.Head().DeviceID, "err", err)
		}
	}
}
