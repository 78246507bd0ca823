package whatsmeow

import (
	"context"
	"crypto/aes"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	meow "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/adapters/outbound/whatsmeow/msgconv"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// Send sends m from the device's account. The recipient is a phone number (checked with
// WhatsApp once a day per number: "not on WhatsApp" is a domain.KindInvalid error) or a
// JID (user@s.whatsapp.net, id@lid or a group id@g.us). A reply quotes the message it
// answers when that message is still kept (the application prunes old ones), and otherwise
// refers to it by id only.
func (c *Client) Send(ctx context.Context, id device.ID, m message.Outgoing) (message.Receipt, error) {
	if err := m.Validate(); err != nil {
		return message.Receipt{}, err
	}
	ss, err := c.loggedIn(id)
	if err != nil {
		return message.Receipt{}, err
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
		if kept, err := c.keptIn(ctx, id, to, m.ReplyTo); err != nil {
			return message.Receipt{}, err
		} else if kept != nil {
			x.Quote.Sender, x.Quote.Message = kept.Sender, kept.Message
		}
	}
	if r := m.Reaction; r != nil {
		sender := to // a message not kept: taken to be the recipient's
		if kept, err := c.keptIn(ctx, id, to, r.MessageID); err != nil {
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
	resp, err := ss.send(ctx, to, msg)
	if err != nil {
		ss.log.Warn("sending failed", "to", to.String(), "err", err)
		return message.Receipt{}, sendError(id, "WhatsApp did not accept the message", err)
	}
	if m.Reaction == nil {
		own, _ := types.ParseJID(ss.link())
		sent := &events.Message{Message: msg, Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: to, Sender: own, IsFromMe: true, IsGroup: to.Server == types.GroupServer},
			ID:            resp.ID, Timestamp: resp.Timestamp,
		}}
		if err := c.msgs.put(ctx, id, sent); err != nil {
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

// keptIn returns the kept message with the id msgID in chat (under either of its
// addresses), the one a reply or a reaction sent to chat refers to, or nil. Of several
// senders who used the id in the chat, the first is taken: the others copied it.
func (c *Client) keptIn(ctx context.Context, id device.ID, chat types.JID, msgID string) (*keptMessage, error) {
	return c.msgs.first(ctx, id, msgID, c.addresses(ctx, chat))
}

// Media downloads the file of a message the device received (or sent) from WhatsApp; the
// device must be connected. The file is spooled to an unlinked temporary file, which
// closing the returned Content removes. The download stops at Config.MediaMaxBytes: the
// size the message declares is the sender's word, and the size returned is the file's.
func (c *Client) Media(ctx context.Context, id device.ID, ref message.MediaRef) (message.MediaFile, error) {
	kept, err := c.keptMedia(ctx, id, ref)
	if err != nil {
		return message.MediaFile{}, err
	}
	var info message.Message
	var file meow.DownloadableMessage
	if kept != nil {
		msgconv.Content(kept.Message, &info)
		file = msgconv.Downloadable(kept.Message)
	}
	if info.Media == nil || file == nil {
		return message.MediaFile{}, domain.Errorf(domain.KindNotFound, "message %s has no media on device %s (or is older than the retention)", ref.MessageID, id)
	}
	ss := c.session(id)
	if ss == nil || ss.cli == nil || !ss.cli.IsLoggedIn() {
		return message.MediaFile{}, domain.Errorf(domain.KindConflict, "device %s must be connected to download media", id)
	}
	tooLarge := domain.Errorf(domain.KindInvalid, "the file of message %s is larger than the %d bytes this gateway accepts (MEDIA_MAX_BYTES)", ref.MessageID, c.cfg.MediaMaxBytes)
	f, err := os.CreateTemp("", "wagate-media-*")
	if err != nil {
		return message.MediaFile{}, err
	}
	_ = os.Remove(f.Name()) // the open file lives on until closed
	// The encrypted file is the plain one, padded to a whole AES block, and a MAC.
	bounded := &boundedFile{File: f, max: c.cfg.MediaMaxBytes + aes.BlockSize + mediaMACLength}
	if err := ss.cli.DownloadToFile(ctx, file, bounded); err != nil {
		_ = f.Close()
		var httpErr meow.DownloadHTTPError
		switch {
		case errors.Is(err, errFileTooLarge):
			return message.MediaFile{}, errors.Join(tooLarge, err)
		case errors.As(err, &httpErr) && (httpErr.StatusCode == http.StatusNotFound || httpErr.StatusCode == http.StatusGone):
			return message.MediaFile{}, errors.Join(domain.Errorf(domain.KindNotFound, "the file of message %s is no longer on WhatsApp's servers", ref.MessageID), err)
		}
		ss.log.Warn("media download failed", "message", ref.MessageID, "err", err)
		return message.MediaFile{}, sendError(id, "downloading the file from WhatsApp failed", err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil && size > c.cfg.MediaMaxBytes {
		err = tooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return message.MediaFile{}, err
	}
	media := *info.Media
	media.Size = size
	return message.MediaFile{Content: f, Size: size, Media: media}, nil
}

// keptMedia returns the kept message ref names, or nil. Its id alone may match messages
// of several senders (ids are theirs to choose): then ref must name the chat and the
// sender, rather than the gateway guessing whose file is wanted.
func (c *Client) keptMedia(ctx context.Context, id device.ID, ref message.MediaRef) (*keptMessage, error) {
	var chats, senders []types.JID
	for _, a := range []struct {
		what, value string
		into        *[]types.JID
	}{{"chat", ref.Chat, &chats}, {"sender", ref.Sender, &senders}} {
		if a.value == "" {
			continue
		}
		j, err := recipient(a.value)
		if err != nil {
			return nil, domain.Errorf(domain.KindInvalid, "%s %q is not a phone number or a WhatsApp JID", a.what, a.value)
		}
		*a.into = c.addresses(ctx, j)
	}
	kept, err := c.msgs.find(ctx, id, ref.MessageID, chats, senders, 2)
	switch {
	case err != nil || len(kept) == 0:
		return nil, err
	case len(kept) > 1:
		return nil, domain.Errorf(domain.KindConflict,
			"several messages on device %s have the id %s (senders choose their ids): name the chat and the sender of the one you want", id, ref.MessageID)
	}
	return &kept[0], nil
}

// mediaMACLength is the length of the MAC at the end of an encrypted WhatsApp file.
const mediaMACLength = 10

var errFileTooLarge = errors.New("the file is larger than the limit")

// boundedFile is the file whatsmeow downloads into, refusing to grow past max bytes. It
// exposes only what whatsmeow needs: an *os.File would also offer ReadFrom, through which
// io.Copy would write past the bound, and whatsmeow preallocates an *os.File to the size
// the server announces.
type boundedFile struct {
	File *os.File
	max  int64
	pos  int64 // where Write writes
}

func (b *boundedFile) Write(p []byte) (int, error) {
	n, err := b.WriteAt(p, b.pos)
	b.pos += int64(n)
	return n, err
}

func (b *boundedFile) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.max {
		return 0, errFileTooLarge
	}
	return b.File.WriteAt(p, off)
}

func (b *boundedFile) Read(p []byte) (int, error) {
	n, err := b.File.ReadAt(p, b.pos)
	b.pos += int64(n)
	return n, err
}

func (b *boundedFile) ReadAt(p []byte, off int64) (int, error) { return b.File.ReadAt(p, off) }

func (b *boundedFile) Seek(offset int64, whence int) (int64, error) {
	if whence == io.SeekCurrent { // the file's own offset is not pos: Read and Write do not move it
		offset, whence = b.pos+offset, io.SeekStart
	}
	pos, err := b.File.Seek(offset, whence)
	if err == nil {
		b.pos = pos
	}
	return pos, err
}

func (b *boundedFile) Truncate(size int64) error {
	if size > b.max {
		return errFileTooLarge
	}
	return b.File.Truncate(size)
}

func (b *boundedFile) Stat() (os.FileInfo, error) { return b.File.Stat() }
