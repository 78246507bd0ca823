// Package application holds the gateway's use cases: one command or query per file, each
// a plain struct handled by a handler built once with the ports it needs.
package application

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/wagate/wagate/domain/cluster"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/domain/webhook"
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
	MarkRead           MarkReadHandler
	SetChatState       SetChatStateHandler
	EditMessage        EditMessageHandler
	RevokeMessage      RevokeMessageHandler
	RestoreSessions    RestoreSessionsHandler
	CreateKey          CreateKeyHandler
	RevokeKey          RevokeKeyHandler
	// Sessions takes what WhatsApp sessions report; the WhatsApp client calls it.
	Sessions *SessionEventsHandler
	// Feed hands committed events to listeners; it runs for as long as the gateway.
	Feed     *Feed
	PruneLog PruneLogHandler
	// Ownership runs the sessions whose leases this instance holds; it runs for as long
	// as the gateway.
	Ownership *Ownership
	Webhooks  Webhooks
	// Dispatcher delivers the event log to the webhooks; it runs for as long as the
	// gateway.
	Dispatcher *Dispatcher
}

// Queries read devices and keys.
type Queries struct {
	GetDevice    GetDeviceHandler
	ListDevices  ListDevicesHandler
	GetQR        GetQRHandler
	GetMedia     GetMediaHandler
	ListEvents   ListEventsHandler
	ListMessages ListMessagesHandler
	ListKeys     ListKeysHandler
	CheckPhones  CheckPhonesHandler
	GetPicture   GetProfilePictureHandler
	CountDevices CountDevicesHandler
}

// Instance is this gateway process among the instances sharing the database: its ID
// (stable across restarts on one host and port, so that a restart finds its leases
// again) and the timing of its leases.
type Instance struct {
	ID       string
	Timing   LeaseTiming
	Delivery DeliveryTiming
}

// WebhookPorts are what webhooks need: where they and their delivery attempts are kept,
// and how events are posted to them.
type WebhookPorts struct {
	Webhooks   webhook.Repository
	Deliveries webhook.Deliveries
	Sender     webhook.Sender
}

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time

// New builds every use case over the given ports. The feed hands committed events to
// pub; the caller runs it (App.Commands.Feed.Run). obs is told what an operator watches.
func New(repo device.Repository, msgs device.Messages, events device.EventLog, leases cluster.Leases, self Instance, keys key.Repository, wa device.WhatsAppClient, pub device.EventPublisher, fetcher message.Fetcher, hooks WebhookPorts, clock Clock, obs Observer, log *slog.Logger) App {
	repo = statusLog{Repository: repo, instance: self.ID, log: log}
	feed := NewFeed(events, pub, log)
	owners := &Ownership{self: self.ID, leases: leases, repo: repo, wa: wa, timing: self.Timing, clock: clock, obs: obs, log: log, owned: map[device.ID]int64{}, starting: map[device.ID]int{}}
	sessions := &SessionEventsHandler{repo: repo, msgs: msgs, owners: owners, feed: feed, clock: clock, log: log}
	restore := RestoreSessionsHandler{repo: repo, wa: wa, feed: feed, clock: clock, sessions: sessions, log: log}
	owners.restore = restore
	return App{
		Commands: Commands{
			CreateDevice:       CreateDeviceHandler{repo: repo, clock: clock},
			RenameDevice:       RenameDeviceHandler{repo: repo, clock: clock},
			DeleteDevice:       DeleteDeviceHandler{repo: repo, wa: wa, feed: feed, owners: owners, clock: clock},
			ConnectDevice:      ConnectDeviceHandler{repo: repo, wa: wa, feed: feed, owners: owners, clock: clock, sessions: sessions, log: log},
			DisconnectDevice:   DisconnectDeviceHandler{repo: repo, wa: wa, feed: feed, owners: owners, clock: clock},
			LogoutDevice:       LogoutDeviceHandler{repo: repo, wa: wa, feed: feed, owners: owners, clock: clock},
			RequestPairingCode: RequestPairingCodeHandler{repo: repo, wa: wa},
			SendMessage:        SendMessageHandler{repo: repo, wa: wa, fetcher: fetcher, obs: obs},
			MarkRead:           MarkReadHandler{repo: repo, msgs: msgs, wa: wa},
			SetChatState:       SetChatStateHandler{repo: repo, wa: wa},
			EditMessage:        EditMessageHandler{repo: repo, wa: wa},
			RevokeMessage:      RevokeMessageHandler{repo: repo, wa: wa},
			RestoreSessions:    restore,
			Ownership:          owners,
			Sessions:           sessions,
			Feed:               feed,
			PruneLog:           PruneLogHandler{events: events, msgs: msgs, deliveries: hooks.Deliveries, clock: clock},
			Webhooks:           Webhooks{hooks: hooks.Webhooks, deliveries: hooks.Deliveries, events: events, repo: repo, sender: hooks.Sender, clock: clock},
			Dispatcher: &Dispatcher{hooks: hooks.Webhooks, deliveries: hooks.Deliveries, events: events, sender: hooks.Sender,
				self: self.ID, timing: cmp.Or(self.Delivery, DefaultDeliveryTiming), clock: clock, obs: obs, log: log, workers: map[webhook.ID]context.CancelFunc{}},
			CreateKey: CreateKeyHandler{keys: keys, devices: repo, clock: clock},
			RevokeKey: RevokeKeyHandler{keys: keys},
		},
		Queries: Queries{
			GetDevice:    GetDeviceHandler{repo: repo},
			ListDevices:  ListDevicesHandler{repo: repo},
			GetQR:        GetQRHandler{repo: repo, clock: clock},
			GetMedia:     GetMediaHandler{repo: repo, wa: wa},
			ListEvents:   ListEventsHandler{repo: repo, events: events},
			ListMessages: ListMessagesHandler{repo: repo, msgs: msgs},
			ListKeys:     ListKeysHandler{keys: keys},
			CheckPhones:  CheckPhonesHandler{repo: repo, wa: wa},
			GetPicture:   GetProfilePictureHandler{repo: repo, wa: wa},
			CountDevices: CountDevicesHandler{repo: repo},
		},
	}
}
