package application

import (
	"context"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// GetMedia opens the file of a message a device received. Message ids are chosen by the
// senders, so two messages may share one: Chat and Sender (optional) say which is meant,
// and are needed when the id alone matches several messages (a domain.KindConflict).
type GetMedia struct {
	DeviceID  string
	MessageID string
	Chat      string
	Sender    string
}

type GetMediaHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

// Handle returns the file, whose Content the caller closes.
func (h GetMediaHandler) Handle(ctx context.Context, q GetMedia) (message.MediaFile, error) {
	id, err := device.ParseID(q.DeviceID)
	if err != nil {
		return message.MediaFile{}, err
	}
	if _, err := h.repo.Get(ctx, id); err != nil {
		return message.MediaFile{}, err
	}
	return h.wa.Media(ctx, id, message.MediaRef{MessageID: q.MessageID, Chat: q.Chat, Sender: q.Sender})
}
