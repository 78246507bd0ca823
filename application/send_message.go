package application

import (
	"context"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// SendMessage sends a message from a device. With MediaURL set, the file is fetched from
// there into Message.Media (whose Type must be set).
type SendMessage struct {
	DeviceID string
	Message  message.Outgoing
	MediaURL string
}

type SendMessageHandler struct {
	repo    device.Repository
	wa      device.WhatsAppClient
	fetcher message.Fetcher
	obs     Observer
}

func (h SendMessageHandler) Handle(ctx context.Context, cmd SendMessage) (message.Receipt, error) {
	id, err := device.ParseID(cmd.DeviceID)
	if err != nil {
		return message.Receipt{}, err
	}
	// The device first: a media URL is fetched only for a device that can send it.
	d, err := h.repo.Get(ctx, id)
	if err != nil {
		return message.Receipt{}, err
	}
	if d.Status() != device.StatusReady {
		return message.Receipt{}, domain.Errorf(domain.KindConflict, "device is not ready (status %s)", d.Status())
	}
	m := cmd.Message
	if cmd.MediaURL != "" {
		if m.Media == nil {
			return message.Receipt{}, domain.Errorf(domain.KindInvalid, "a media URL needs a media type")
		}
		f, err := h.fetcher.Fetch(ctx, cmd.MediaURL)
		if err != nil {
			return message.Receipt{}, err
		}
		m.Media.Data = f.Data
		if m.Media.MimeType == "" {
			m.Media.MimeType = f.MimeType
		}
		if m.Media.FileName == "" {
			m.Media.FileName = f.FileName
		}
	}
	if err := m.Validate(); err != nil {
		return message.Receipt{}, err
	}
	began := time.Now()
	r, err := h.wa.Send(ctx, id, m)
	h.obs.MessageSent(time.Since(began), err)
	return r, err
}
