package application

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// The messaging calls besides sending: read receipts, chat states, edits, revokes, and
// questions about contacts. Each needs the device's session, so the device must be ready.

// readyDevice parses raw and checks that the device exists and is ready.
func readyDevice(ctx context.Context, repo device.Repository, raw string) (device.ID, error) {
	id, err := device.ParseID(raw)
	if err != nil {
		return "", err
	}
	d, err := repo.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if d.Status() != device.StatusReady {
		return "", domain.Errorf(domain.KindConflict, "device is not ready (status %s)", d.Status())
	}
	return id, nil
}

// MarkRead marks messages of a chat as read. Without MessageIDs, the newest messages
// received in the chat that the gateway keeps are marked (up to MarkReadDepth).
type MarkRead struct {
	DeviceID   string
	Chat       string
	MessageIDs []string
	Sender     string // in a group, who sent MessageIDs
}

// MarkReadDepth is how many of a chat's newest messages marking the whole chat covers.
const MarkReadDepth = 100

type MarkReadHandler struct {
	repo device.Repository
	msgs device.Messages
	wa   device.WhatsAppClient
}

// Handle returns the ids marked as read.
func (h MarkReadHandler) Handle(ctx context.Context, cmd MarkRead) ([]string, error) {
	id, err := readyDevice(ctx, h.repo, cmd.DeviceID)
	if err != nil {
		return nil, err
	}
	switch {
	case cmd.Chat == "":
		return nil, domain.Errorf(domain.KindInvalid, "chat is required")
	case len(cmd.MessageIDs) > MarkReadDepth:
		return nil, domain.Errorf(domain.KindInvalid, "at most %d message ids at once", MarkReadDepth)
	case len(cmd.MessageIDs) > 0:
		return cmd.MessageIDs, h.wa.MarkRead(ctx, id, message.ReadMark{Chat: cmd.Chat, IDs: cmd.MessageIDs, Sender: cmd.Sender})
	}
	marks, err := h.unread(ctx, id, cmd.Chat)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, m := range marks {
		if err := h.wa.MarkRead(ctx, id, m); err != nil {
			return nil, err
		}
		ids = append(ids, m.IDs...)
	}
	return ids, nil
}

// unread groups the newest messages others sent in chat by their sender, as read
// receipts name one sender each.
func (h MarkReadHandler) unread(ctx context.Context, id device.ID, chat string) ([]message.ReadMark, error) {
	hist, err := h.msgs.History(ctx, id, device.HistoryQuery{Chat: message.ChatJID(chat), Limit: MarkReadDepth})
	if err != nil {
		return nil, err
	}
	var marks []message.ReadMark
	bySender := map[string]int{}
	for _, raw := range hist.Messages {
		var m struct {
			ID      string `json:"id"`
			FromMe  bool   `json:"fromMe"`
			IsGroup bool   `json:"isGroup"`
			Sender  struct {
				JID string `json:"jid"`
			} `json:"sender"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("read kept message: %w", err)
		}
		if m.FromMe {
			continue
		}
		sender := ""
		if m.IsGroup {
			sender = m.Sender.JID
		}
		i, ok := bySender[sender]
		if !ok {
			i = len(marks)
			bySender[sender] = i
			marks = append(marks, message.ReadMark{Chat: chat, Sender: sender})
		}
		marks[i].IDs = append(marks[i].IDs, m.ID)
	}
	return marks, nil
}

// SetChatState shows a chat what the account is doing: composing, recording or paused.
type SetChatState struct {
	DeviceID string
	Chat     string
	State    string
}

type SetChatStateHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h SetChatStateHandler) Handle(ctx context.Context, cmd SetChatState) error {
	st, err := message.ParseChatState(cmd.State)
	if err != nil {
		return err
	}
	if cmd.Chat == "" {
		return domain.Errorf(domain.KindInvalid, "chat is required")
	}
	id, err := readyDevice(ctx, h.repo, cmd.DeviceID)
	if err != nil {
		return err
	}
	return h.wa.SetChatState(ctx, id, cmd.Chat, st)
}

// EditMessage replaces the text of a message the device sent.
type EditMessage struct {
	DeviceID string
	Edit     message.Edit
}

type EditMessageHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h EditMessageHandler) Handle(ctx context.Context, cmd EditMessage) (message.Receipt, error) {
	if err := cmd.Edit.Validate(); err != nil {
		return message.Receipt{}, err
	}
	id, err := readyDevice(ctx, h.repo, cmd.DeviceID)
	if err != nil {
		return message.Receipt{}, err
	}
	return h.wa.Edit(ctx, id, cmd.Edit)
}

// RevokeMessage deletes a message the device sent, for everyone.
type RevokeMessage struct {
	DeviceID  string
	Chat      string
	MessageID string
}

type RevokeMessageHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h RevokeMessageHandler) Handle(ctx context.Context, cmd RevokeMessage) (message.Receipt, error) {
	if cmd.Chat == "" || cmd.MessageID == "" {
		return message.Receipt{}, domain.Errorf(domain.KindInvalid, "chat and message id are required")
	}
	id, err := readyDevice(ctx, h.repo, cmd.DeviceID)
	if err != nil {
		return message.Receipt{}, err
	}
	return h.wa.Revoke(ctx, id, cmd.Chat, cmd.MessageID)
}

// CheckPhones asks which phone numbers are on WhatsApp.
type CheckPhones struct {
	DeviceID string
	Phones   []string
}

type CheckPhonesHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h CheckPhonesHandler) Handle(ctx context.Context, q CheckPhones) ([]message.PhoneCheck, error) {
	if len(q.Phones) == 0 || len(q.Phones) > message.MaxPhoneChecks {
		return nil, domain.Errorf(domain.KindInvalid, "phones must hold 1 to %d phone numbers", message.MaxPhoneChecks)
	}
	digits := make([]string, len(q.Phones))
	for i, p := range q.Phones {
		d, ok := message.PhoneNumber(p)
		if !ok {
			return nil, domain.Errorf(domain.KindInvalid, "%q is not a phone number (country code first)", p)
		}
		digits[i] = d
	}
	id, err := readyDevice(ctx, h.repo, q.DeviceID)
	if err != nil {
		return nil, err
	}
	checks, err := h.wa.CheckPhones(ctx, id, digits)
	if err != nil {
		return nil, err
	}
	for i := range checks { // answered as asked
		if i < len(q.Phones) {
			checks[i].Phone = q.Phones[i]
		}
	}
	return checks, nil
}

// GetProfilePicture returns a contact's profile picture.
type GetProfilePicture struct {
	DeviceID string
	Contact  string
}

type GetProfilePictureHandler struct {
	repo device.Repository
	wa   device.WhatsAppClient
}

func (h GetProfilePictureHandler) Handle(ctx context.Context, q GetProfilePicture) (message.Picture, error) {
	id, err := readyDevice(ctx, h.repo, q.DeviceID)
	if err != nil {
		return message.Picture{}, err
	}
	return h.wa.ProfilePicture(ctx, id, q.Contact)
}
