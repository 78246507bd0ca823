package whatsmeow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wagate/wagate/adapters/outbound/whatsmeow/msgconv"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// Send sends m from the device's account. The recipient is a phone number (checked with
// WhatsApp once a day per number: "not on WhatsApp" is a domain.KindInvalid error) or a
// JID (user@s.whatsapp.net, id@lid or a group id@g.us). A reply quotes the message it
// answers when that message is still kept (see Config.MessageRetention), and otherwise
// refers to it by id only.
func (c *Client) Send(ctx context.Context, id device.ID, m message.Outgoing) (message.Receipt, error) {
	if err := m.Validate(); err != nil {
		return message.Receipt{}, err
	}
	ss := c.session(id)
	if ss == nil || ss.cli == nil || !ss.cli.IsLoggedIn() {
		return message.Receipt{}, notConnected(id)
	}
	to, err := recipient(m.To)
	if err != nil {
		return message.Receipt{}, err
	}
	if to.Server == types.DefaultUserServer {
		if err := c.checkOnWhatsApp(ctx, ss, to); err != nil {
			return message.Receipt{}, err
		}
	}
	x := msgconv.Extras{Now: time.Now()}
	for _, mention := range m.Mentions {
		j, err := recipient(mention)
		if err != nil || j.Server == types.GroupServer {
			return message.Receipt{}, domain.Errorf(domain.KindInvalid, "mention %q is not a phone number or a user's JID", mention)
		}
		x.Mentions = append(x.Mentions, j)
	}
	if len(x.Mentions) > 0 {
		m.Text = msgconv.MentionText(m.Text, x.Mentions)
	}
	if m.ReplyTo != "" {
		x.Quote = &msgconv.Quote{ID: m.ReplyTo, Sender: to}
		if kept, err := c.msgs.get(ctx, id, m.ReplyTo); err != nil {
			return message.Receipt{}, err
		} else if kept != nil {
			x.Quote.Sender, x.Quote.Message = kept.Sender, kept.Message
		}
	}
	if r := m.Reaction; r != nil {
		sender := to // a message not kept: taken to be the recipient's
		if kept, err := c.msgs.get(ctx, id, r.MessageID); err != nil {
			return message.Receipt{}, err
		} else if kept != nil {
			sender = kept.Sender
			if kept.FromMe {
				sender = types.EmptyJID
			}
		}
		x.ReactionKey = ss.cli.BuildMessageKey(to, sender, r.MessageID)
	}
	if a := m.Media; a != nil {
		kind, err := msgconv.UploadType(a.Type)
		if err != nil {
			return message.Receipt{}, domain.Errorf(domain.KindInvalid, "%v", err)
		}
		up, err := ss.cli.Upload(ctx, a.Data, kind)
		if err != nil {
			ss.log.Warn("media upload failed", "err", err)
			return message.Receipt{}, sendError(id, "uploading the media to WhatsApp failed", err)
		}
		x.Upload = &up
	}
	msg, err := msgconv.Outgoing(m, x)
	if err != nil {
		return message.Receipt{}, domain.Errorf(domain.KindInvalid, "%v", err)
	}
	resp, err := ss.cli.SendMessage(ctx, to, msg)
	if err != nil {
		ss.log.Warn("sending failed", "to", to.String(), "err", err)
		return message.Receipt{}, sendError(id, "WhatsApp did not accept the message", err)
	}
	if m.Reaction == nil {
		own, _ := types.ParseJID(ss.link())
		if err := c.msgs.put(ctx, id, resp.ID, to, own, true, msg, resp.Timestamp); err != nil {
			ss.log.Warn("sent message not kept: replies to it will not quote it", "message", resp.ID, "err", err)
		}
	}
	return message.Receipt{ID: resp.ID, To: to.String(), Timestamp: resp.Timestamp.UTC()}, nil
}

func notConnected(id device.ID) error {
	return domain.Errorf(domain.KindConflict, "device %s is not connected to WhatsApp", id)
}

// sendError classifies a failure of whatsmeow while sending: a connection that went away
// is a conflict (the device is not connected), anything else makes WhatsApp unavailable.
// The user sees what; the log and err say why.
func sendError(id device.ID, what string, err error) error {
	var disc *meow.DisconnectedError
	switch {
	case errors.Is(err, meow.ErrNotConnected), errors.Is(err, meow.ErrNotLoggedIn), errors.As(err, &disc):
		return errors.Join(notConnected(id), err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, meow.ErrMessageTimedOut), errors.Is(err, meow.ErrIQTimedOut):
		return errors.Join(domain.Errorf(domain.KindUnavailable, "%s: WhatsApp did not answer in time", what), err)
	}
	return errors.Join(domain.Errorf(domain.KindUnavailable, "%s", what), err)
}

// recipient parses a phone number (digits with an optional +, spaces, dashes...) or a JID
// of a user (number@s.whatsapp.net, id@lid) or group (id@g.us).
func recipient(to string) (types.JID, error) {
	to = strings.TrimSpace(to)
	if digits, ok := message.PhoneNumber(to); ok {
		return types.NewJID(digits, types.DefaultUserServer), nil
	}
	if strings.Contains(to, "@") {
		if j, err := types.ParseJID(to); err == nil && j.User != "" {
			switch j.Server {
			case types.DefaultUserServer:
				if digits, ok := message.PhoneNumber(j.User); ok && digits == j.User {
					return j.ToNonAD(), nil
				}
			case types.HiddenUserServer, types.GroupServer:
				if strings.Trim(j.User, "0123456789-") == "" {
					return j.ToNonAD(), nil
				}
			}
		}
	}
	return types.EmptyJID, domain.Errorf(domain.KindInvalid,
		"recipient %q is not a phone number (country code first) or a WhatsApp JID (number@s.whatsapp.net, id@lid, id@g.us)", to)
}

// onWhatsAppCache remembers the phone numbers WhatsApp confirmed, for a day, so that
// sending to a number asks WhatsApp about it once a day rather than every time.
type onWhatsAppCache struct {
	mu      sync.Mutex
	entries map[string]time.Time // number → when confirmed
}

const onWhatsAppTTL = 24 * time.Hour

func (c *Client) checkOnWhatsApp(ctx context.Context, ss *session, to types.JID) error {
	cache := &c.onWhatsApp
	cache.mu.Lock()
	at, ok := cache.entries[to.User]
	cache.mu.Unlock()
	if ok && time.Since(at) < onWhatsAppTTL {
		return nil
	}
	res, err := ss.cli.IsOnWhatsApp(ctx, []string{"+" + to.User})
	if err != nil {
		ss.log.Warn("checking the recipient failed", "err", err)
		return sendError(ss.id, "checking whether the recipient is on WhatsApp failed", err)
	}
	if len(res) == 0 || !res[0].IsIn {
		return domain.Errorf(domain.KindInvalid, "recipient +%s is not on WhatsApp", to.User)
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if len(cache.entries) >= 100_000 {
		clear(cache.entries)
	}
	cache.entries[to.User] = time.Now()
	return nil
}

// Media opens the file of a message the device received (or sent), downloading it from
// WhatsApp; the device must be connected. The file is spooled to an unlinked temporary
// file, which the returned reader removes on Close.
func (c *Client) Media(ctx context.Context, id device.ID, messageID string) (io.ReadCloser, message.Media, error) {
	kept, err := c.msgs.get(ctx, id, messageID)
	if err != nil {
		return nil, message.Media{}, err
	}
	var info message.Message
	if kept != nil {
		msgconv.Content(kept.Message, &info)
	}
	file := msgconv.Downloadable(kept.messageOrNil())
	if info.Media == nil || file == nil {
		return nil, message.Media{}, domain.Errorf(domain.KindNotFound, "message %s has no media on device %s (or is older than the retention)", messageID, id)
	}
	ss := c.session(id)
	if ss == nil || ss.cli == nil || !ss.cli.IsLoggedIn() {
		return nil, message.Media{}, domain.Errorf(domain.KindConflict, "device %s must be connected to download media", id)
	}
	f, err := os.CreateTemp("", "wagate-media-*")
	if err != nil {
		return nil, message.Media{}, err
	}
	_ = os.Remove(f.Name()) // the open file lives on until closed
	if err := ss.cli.DownloadToFile(ctx, file, f); err != nil {
		_ = f.Close()
		var httpErr meow.DownloadHTTPError
		if errors.As(err, &httpErr) && (httpErr.StatusCode == http.StatusNotFound || httpErr.StatusCode == http.StatusGone) {
			return nil, message.Media{}, errors.Join(domain.Errorf(domain.KindNotFound, "the file of message %s is no longer on WhatsApp's servers", messageID), err)
		}
		ss.log.Warn("media download failed", "message", messageID, "err", err)
		return nil, message.Media{}, sendError(id, "downloading the file from WhatsApp failed", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, message.Media{}, err
	}
	return f, *info.Media, nil
}

func (k *keptMessage) messageOrNil() *waE2E.Message {
	if k == nil {
		return nil
	}
	return k.Message
}
