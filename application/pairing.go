package application

import (
	"context"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// RequestPairingCode asks for a code to type on the phone (Linked devices → Link with
// phone number) instead of scanning the QR code.
type RequestPairingCode struct {
	DeviceID    string
	PhoneNumber string
}

type RequestPairingCodeHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h RequestPairingCodeHandler) Handle(ctx context.Context, cmd RequestPairingCode) (string, error) {
	id, err := device.ParseID(cmd.DeviceID)
	if err != nil {
		return "", err
	}
	phone, ok := message.PhoneNumber(cmd.PhoneNumber)
	if !ok {
		return "", domain.Errorf(domain.KindInvalid, "phoneNumber must be an international phone number such as +15551234567")
	}
	d, err := h.repo.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if d.Status() != device.StatusPairing {
		return "", domain.Errorf(domain.KindConflict, "device is not pairing (status %s): connect it and wait for its first QR code", d.Status())
	}
	return h.wa.PairPhone(ctx, id, phone)
}

// GetQR returns the QR code a device waits to have scanned.
type GetQR struct {
	DeviceID string
}

// QR is a QR code and when it stops being valid.
type QR struct {
	Code      string
	ExpiresAt time.Time
}

type GetQRHandler struct {
	repo  device.Repository
	clock Clock
}

func (h GetQRHandler) Handle(ctx context.Context, q GetQR) (QR, error) {
	id, err := device.ParseID(q.DeviceID)
	if err != nil {
		return QR{}, err
	}
	d, err := h.repo.Get(ctx, id)
	if err != nil {
		return QR{}, err
	}
	if d.Status() != device.StatusPairing {
		return QR{}, domain.Errorf(domain.KindConflict, "device is not pairing (status %s): connect it to get a QR code", d.Status())
	}
	code, expires, ok := d.CurrentQR(h.clock())
	if !ok {
		return QR{}, domain.Errorf(domain.KindNotFound, "no QR code right now: the last one expired, the next is on its way")
	}
	return QR{Code: code, ExpiresAt: expires}, nil
}
