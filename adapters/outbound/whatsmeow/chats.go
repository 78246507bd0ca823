package whatsmeow

import (
	"context"
	"errors"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// The messaging calls besides Send (device.Messenger).

// loggedIn returns the device's session when it is logged in.
func (c *Client) loggedIn(id device.ID) (*session, error) {
	ss := c.session(id)
	if ss == nil || ss.cli == nil || !ss.cli.IsLoggedIn() {
		return nil, notConnected(id)
	}
	return ss, nil
}

// MarkRead sends a read receipt for r.IDs in r.Chat.
func (c *Client) MarkRead(ctx context.Context, id device.ID, r message.ReadMark) error {
	ss, err := c.loggedIn(id)
	if err != nil {
		return err
	}
	chat, err := recipient(r.Chat)
	if err != nil {
		return err
	}
	var sender types.JID
	if r.Sender != "" {
		if sender, err = recipient(r.Sender); err != nil {
			return err
		}
	}
	if err := ss.cli.MarkRead(ctx, r.IDs, time.Now(), chat, sender); err != nil {
		return sendError(id, "sending the read receipt failed", err)
	}
	return nil
}

// SetChatState sends a chat state: recording is composing with audio, as WhatsApp has it.
func (c *Client) SetChatState(ctx context.Context, id device.ID, chat string, s message.ChatState) error {
	ss, err := c.loggedIn(id)
	if err != nil {
		return err
	}
	to, err := recipient(chat)
	if err != nil {
		return err
	}
	state, media := types.ChatPresenceComposing, types.ChatPresenceMediaText
	switch s {
	case message.ChatRecording:
		media = types.ChatPresenceMediaAudio
	case message.ChatPaused:
		state = types.ChatPresencePaused
	}
	if err := ss.cli.SendChatPresence(ctx, to, state, media); err != nil {
		return sendError(id, "sending the chat state failed", err)
	}
	return nil
}

// Edit replaces the text of a message the device sent (its caption, for media).
func (c *Client) Edit(ctx context.Context, id device.ID, e message.Edit) (message.Receipt, error) {
	ss, err := c.loggedIn(id)
	if err != nil {
		return message.Receipt{}, err
	}
	chat, err := recipient(e.Chat)
	if err != nil {
		return message.Receipt{}, err
	}
	content := &waE2E.Message{Conversation: proto.String(e.Text)}
	return c.sendProtocol(ctx, ss, chat, ss.cli.BuildEdit(chat, e.MessageID, content))
}

// Revoke deletes a message the device sent, for everyone.
func (c *Client) Revoke(ctx context.Context, id device.ID, chat, messageID string) (message.Receipt, error) {
	ss, err := c.loggedIn(id)
	if err != nil {
		return message.Receipt{}, err
	}
	to, err := recipient(chat)
	if err != nil {
		return message.Receipt{}, err
	}
	return c.sendProtocol(ctx, ss, to, ss.cli.BuildRevoke(to, types.EmptyJID, messageID))
}

// sendProtocol sends an edit or revoke, reporting its `sent` status as Send does.
func (c *Client) sendProtocol(ctx context.Context, ss *session, to types.JID, msg *waE2E.Message) (message.Receipt, error) {
	resp, err := ss.send(ctx, to, msg)
	if err != nil {
		ss.log.Warn("sending failed", "to", to.String(), "err", err)
		return message.Receipt{}, sendError(ss.id, "WhatsApp did not accept the message", err)
	}
	return message.Receipt{ID: resp.ID, To: to.String(), Timestamp: resp.Timestamp.UTC()}, nil
}

// CheckPhones asks WhatsApp about phone numbers (digits), answering in their order,
// with the LID behind each number when WhatsApp tells it (or told it before).
func (c *Client) CheckPhones(ctx context.Context, id device.ID, phones []string) ([]message.PhoneCheck, error) {
	ss, err := c.loggedIn(id)
	if err != nil {
		return nil, err
	}
	query := make([]string, len(phones))
	for i, p := range phones {
		query[i] = "+" + p
	}
	res, err := ss.cli.IsOnWhatsApp(ctx, query)
	if err != nil {
		return nil, sendError(id, "asking WhatsApp about the phone numbers failed", err)
	}
	// WhatsApp answers with the LID as the JID and the phone number beside it, or
	// (older servers) with the phone number alone.
	found := make(map[string]types.IsOnWhatsAppResponse, len(res))
	for _, r := range res {
		if r.PhoneNumber.IsEmpty() {
			r.PhoneNumber = r.JID
		}
		found[r.PhoneNumber.User] = r
	}
	checks := make([]message.PhoneCheck, len(phones))
	for i, p := range phones {
		checks[i] = message.PhoneCheck{Phone: p}
		r, ok := found[p]
		if !ok || !r.IsIn {
			continue
		}
		pn := r.PhoneNumber.ToNonAD()
		checks[i].OnWhatsApp, checks[i].JID = true, pn.String()
		lid := r.JID.ToNonAD()
		if lid.Server != types.HiddenUserServer {
			lid, _ = c.altJID(ctx, pn)
		}
		if lid.Server == types.HiddenUserServer {
			checks[i].LID = lid.String()
		}
	}
	return checks, nil
}

// ProfilePicture asks WhatsApp for the contact's full-size profile picture.
func (c *Client) ProfilePicture(ctx context.Context, id device.ID, contact string) (message.Picture, error) {
	ss, err := c.loggedIn(id)
	if err != nil {
		return message.Picture{}, err
	}
	jid, err := recipient(contact)
	if err != nil {
		return message.Picture{}, err
	}
	info, err := ss.cli.GetProfilePictureInfo(ctx, jid, nil)
	switch {
	case errors.Is(err, meow.ErrProfilePictureNotSet), errors.Is(err, meow.ErrProfilePictureUnauthorized), err == nil && info == nil:
		return message.Picture{}, domain.Errorf(domain.KindNotFound, "%s has no profile picture this account may see", contact)
	case err != nil:
		return message.Picture{}, sendError(id, "asking WhatsApp for the profile picture failed", err)
	}
	return message.Picture{URL: info.URL, ID: info.ID}, nil
}
