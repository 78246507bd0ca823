package application

import (
	"context"
	"io"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// GetMedia opens the file of a message a device received.
type GetMedia struct {
	DeviceID  string
	MessageID string
}

type GetMediaHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

// Handle returns the file's content, which the caller closes, and what it is.
func (h GetMediaHandler) Handle(ctx context.Context, q GetMedia) (io.ReadCloser, message.Media, error) {
	id, err := device.ParseID(q.DeviceID)
	if err != nil {
		return nil, message.Media{}, err
	}
	if _, err := h.repo.Get(ctx, id); err != nil {
		return nil, message.Media{}, err
	}
	return h.wa.Media(ctx, id, q.MessageID)
}
