package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// The chat actions of the scripted client: each is recorded as a line that tests read
// with Actions ("read <chat> <ids>", "state <chat> <state>", "edit <chat> <id> <text>",
// "revoke <chat> <id>"). Every number is on WhatsApp but those starting with 999, and
// every contact has a picture but those starting with 999.

// Actions returns what the device did in chats, in order.
func (w *WhatsApp) Actions(id device.ID) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.actions[id])
}

// act records an action of a connected device.
func (w *WhatsApp) act(id device.ID, chat, format string, args ...any) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[id]; !ok || s.jid == "" {
		return "", domain.Errorf(domain.KindConflict, "device %s is not connected", id)
	}
	jid, err := chatJID(chat)
	if err != nil {
		return "", err
	}
	w.actions[id] = append(w.actions[id], fmt.Sprintf(format, append([]any{jid}, args...)...))
	return jid, nil
}

func chatJID(chat string) (string, error) {
	if jid := message.ChatJID(chat); strings.Contains(jid, "@") {
		return jid, nil
	}
	return "", domain.Errorf(domain.KindInvalid, "%q is not a phone number or a JID", chat)
}

func (w *WhatsApp) MarkRead(_ context.Context, id device.ID, r message.ReadMark) error {
	_, err := w.act(id, r.Chat, "read %s %s", strings.Join(r.IDs, ","))
	return err
}

func (w *WhatsApp) SetChatState(_ context.Context, id device.ID, chat string, s message.ChatState) error {
	_, err := w.act(id, chat, "state %s %s", s)
	return err
}

func (w *WhatsApp) Edit(_ context.Context, id device.ID, e message.Edit) (message.Receipt, error) {
	to, err := w.act(id, e.Chat, "edit %s %s %s", e.MessageID, e.Text)
	return receipt(to), err
}

func (w *WhatsApp) Revoke(_ context.Context, id device.ID, chat, messageID string) (message.Receipt, error) {
	to, err := w.act(id, chat, "revoke %s %s", messageID)
	return receipt(to), err
}

func receipt(to string) message.Receipt {
	return message.Receipt{ID: "3EB0" + rand.Text()[:16], To: to, Timestamp: time.Now().UTC()}
}

func (w *WhatsApp) CheckPhones(_ context.Context, id device.ID, phones []string) ([]message.PhoneCheck, error) {
	if err := w.connected(id); err != nil {
		return nil, err
	}
	checks := make([]message.PhoneCheck, len(phones))
	for i, p := range phones {
		checks[i] = message.PhoneCheck{Phone: p}
		if !strings.HasPrefix(p, "999") {
			checks[i].OnWhatsApp, checks[i].JID = true, p+"@s.whatsapp.net"
		}
	}
	return checks, nil
}

func (w *WhatsApp) ProfilePicture(_ context.Context, id device.ID, contact string) (message.Picture, error) {
	if err := w.connected(id); err != nil {
		return message.Picture{}, err
	}
	jid, err := chatJID(contact)
	if err != nil {
		return message.Picture{}, err
	}
	if strings.HasPrefix(jid, "999") {
		return message.Picture{}, domain.Errorf(domain.KindNotFound, "%s has no profile picture", contact)
	}
	return message.Picture{URL: "https://pps.whatsapp.net/v/" + jid + ".jpg", ID: "1"}, nil
}

func (w *WhatsApp) connected(id device.ID) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[id]; !ok || s.jid == "" {
		return domain.Errorf(domain.KindConflict, "device %s is not connected", id)
	}
	return nil
}
