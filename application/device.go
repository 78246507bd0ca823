package application

import (
	"time"

	"github.com/wagate/wagate/domain/device"
)

// Device is the read model of a device. Zero times mean "never".
type Device struct {
	ID                   string
	Name                 string
	Status               string
	JID                  string
	PhoneNumber          string
	PushName             string
	BusinessName         string
	LastDisconnectReason string
	BanExpiresAt         time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	LastConnectedAt      time.Time
}

func view(d *device.Device) Device {
	s := d.Snapshot()
	return Device{
		ID: s.ID.String(), Name: s.Name, Status: s.Status.String(), JID: s.JID,
		PhoneNumber: s.PhoneNumber, PushName: s.PushName, BusinessName: s.BusinessName,
		LastDisconnectReason: string(s.LastDisconnectReason), BanExpiresAt: s.BanExpiresAt,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, LastConnectedAt: s.LastConnectedAt,
	}
}
