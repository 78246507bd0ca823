package rest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skip2/go-qrcode"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/key"
	"github.com/wagate/wagate/domain/message"
)

// sendJSON is the body of POST /devices/:id/messages: a recipient and one kind of
// content. Media comes by URL (fetched by the gateway) or inline as base64.
type sendJSON struct {
	To       string        `json:"to"`
	Text     string        `json:"text"`
	ReplyTo  string        `json:"replyTo"`
	Mentions []string      `json:"mentions"`
	Media    *mediaJSON    `json:"media"`
	Location *locationJSON `json:"location"`
	Contact  *contactJSON  `json:"contact"`
	Reaction *reactionJSON `json:"reaction"`
}

type mediaJSON struct {
	Type     string `json:"type"`
	URL      string `json:"url"`
	Data     []byte `json:"data"` // base64 in JSON
	MimeType string `json:"mimetype"`
	FileName string `json:"fileName"`
}

type locationJSON struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name"`
	Address   string   `json:"address"`
}

type contactJSON struct {
	Name        string `json:"name"`
	PhoneNumber string `json:"phoneNumber"`
}

type reactionJSON struct {
	MessageID string `json:"messageId"`
	Emoji     string `json:"emoji"`
}

type receiptJSON struct {
	ID        string    `json:"id"`
	To        string    `json:"to"`
	Timestamp time.Time `json:"timestamp"`
}

// sendMessage sends a message. Its body may carry a media file, so it is read here, as
// a stream: after the key and the device were checked, bounded in size, and with a
// bounded number of large bodies received at once.
func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, access *key.Access) {
	r0, err := a.send(w, r, access)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, receiptJSON{ID: r0.ID, To: r0.To, Timestamp: r0.Timestamp.UTC()})
}

func (a *API) send(w http.ResponseWriter, r *http.Request, access *key.Access) (message.Receipt, error) {
	id, err := scopedDevice(*access, r.Method, r.PathValue("id"))
	if err != nil {
		return message.Receipt{}, err
	}
	if r.ContentLength > a.maxSendBytes {
		return message.Receipt{}, tooLarge(a.maxSendBytes) // refused from its announced length, unread
	}
	if r.ContentLength < 0 || r.ContentLength > MaxBodyBytes {
		select {
		case a.uploads <- struct{}{}:
			defer func() { <-a.uploads }()
		default:
			return message.Receipt{}, &apiError{code: codeBusy, retryAfter: "1",
				message: "too many uploads in progress: retry shortly"}
		}
	}
	body := http.MaxBytesReader(w, r.Body, a.maxSendBytes)
	var cmd application.SendMessage
	switch mt := mediaType(r.Header.Get("Content-Type")); {
	case mt == "multipart/form-data":
		cmd, err = a.sendFromForm(r, body)
	case isJSON(mt):
		cmd, err = a.sendFromJSON(body)
	default:
		err = errorf(codeUnsupportedMedia, "Content-Type must be application/json or multipart/form-data")
	}
	if err != nil {
		return message.Receipt{}, err
	}
	if m := cmd.Message.Media; m != nil && int64(len(m.Data)) > a.opts.MaxMediaBytes {
		return message.Receipt{}, a.mediaTooLarge()
	}
	cmd.DeviceID = id.String()
	return a.app.Commands.SendMessage.Handle(r.Context(), cmd)
}

func (a *API) mediaTooLarge() error {
	return errorf(codeTooLarge, "media file too large (limit %d bytes)", a.opts.MaxMediaBytes)
}

func (a *API) sendFromJSON(body io.Reader) (application.SendMessage, error) {
	var b sendJSON
	if err := decodeJSONFrom(body, &b); err != nil {
		return application.SendMessage{}, err
	}
	m := message.Outgoing{To: b.To, Text: b.Text, ReplyTo: b.ReplyTo, Mentions: b.Mentions}
	var mediaURL string
	if md := b.Media; md != nil {
		if (md.URL == "") == (len(md.Data) == 0) {
			return application.SendMessage{}, invalid("media needs either url or data (base64), not both")
		}
		mediaURL = md.URL
		m.Media = &message.Attachment{Type: message.Type(md.Type), Data: md.Data, MimeType: md.MimeType, FileName: md.FileName}
	}
	if l := b.Location; l != nil {
		if l.Latitude == nil || l.Longitude == nil {
			return application.SendMessage{}, invalid("location needs latitude and longitude")
		}
		m.Location = &message.Location{Latitude: *l.Latitude, Longitude: *l.Longitude, Name: l.Name, Address: l.Address}
	}
	if ct := b.Contact; ct != nil {
		m.Contact = &message.Contact{Name: ct.Name, PhoneNumber: ct.PhoneNumber}
	}
	if r := b.Reaction; r != nil {
		m.Reaction = &message.Reaction{MessageID: r.MessageID, Emoji: r.Emoji}
	}
	return application.SendMessage{Message: m, MediaURL: mediaURL}, nil
}

// sendFromForm reads a multipart upload: fields to, text (the caption), replyTo,
// mentions (comma-separated), type, and the file in "file". The file is streamed to a
// temporary file as it arrives, so that the form is never held in memory twice.
func (a *API) sendFromForm(r *http.Request, body io.Reader) (application.SendMessage, error) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if params["boundary"] == "" {
		return application.SendMessage{}, invalid("malformed multipart form: no boundary")
	}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	fieldBytes := 0
	var att *message.Attachment
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return application.SendMessage{}, formError(err)
		}
		if p.FormName() != "file" {
			// Fields are small: together they share the bound of an ordinary body.
			v, err := io.ReadAll(io.LimitReader(p, int64(MaxBodyBytes-fieldBytes+1)))
			if err != nil {
				return application.SendMessage{}, formError(err)
			}
			if fieldBytes += len(v); fieldBytes > MaxBodyBytes {
				return application.SendMessage{}, tooLarge(MaxBodyBytes)
			}
			if _, seen := fields[p.FormName()]; !seen {
				fields[p.FormName()] = string(v)
			}
			continue
		}
		if att != nil {
			return application.SendMessage{}, invalid(`a multipart message needs exactly one file in the "file" field`)
		}
		data, err := a.receiveFile(p)
		if err != nil {
			return application.SendMessage{}, err
		}
		mimeType := p.Header.Get("Content-Type")
		if mimeType == "application/octet-stream" {
			mimeType = "" // says nothing: left for the kind guess and WhatsApp
		}
		att = &message.Attachment{Data: data, MimeType: mimeType, FileName: p.FileName()}
	}
	if att == nil {
		return application.SendMessage{}, invalid(`a multipart message needs exactly one file in the "file" field`)
	}
	att.Type = message.Type(cmp.Or(fields["type"], kindOf(att.MimeType)))
	var mentions []string
	if s := fields["mentions"]; s != "" {
		mentions = strings.Split(s, ",")
	}
	return application.SendMessage{Message: message.Outgoing{
		To: fields["to"], Text: fields["text"], ReplyTo: fields["replyTo"], Mentions: mentions, Media: att,
	}}, nil
}

// receiveFile streams an uploaded file to a temporary file, refusing it past the media
// limit, then reads it back: sending needs it whole, but only once it has all arrived.
func (a *API) receiveFile(p io.Reader) ([]byte, error) {
	f, err := os.CreateTemp("", "wagate-upload-*") // $TMPDIR
	if err != nil {
		return nil, fmt.Errorf("create upload file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(p, a.opts.MaxMediaBytes+1))
	if err != nil {
		return nil, formError(err)
	}
	if n > a.opts.MaxMediaBytes {
		return nil, a.mediaTooLarge()
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read upload file: %w", err)
	}
	return data, nil
}

// formError tells a body cut by its size limit from a malformed form.
func formError(err error) error {
	if isTooLarge(err) {
		return err
	}
	return errorf(codeInvalidJSON, "malformed multipart form")
}

// kindOf guesses the kind of media from its type, for uploads that do not say.
func kindOf(mimeType string) string {
	switch {
	case mimeType == "image/webp":
		return string(message.TypeSticker)
	case strings.HasPrefix(mimeType, "image/"):
		return string(message.TypeImage)
	case strings.HasPrefix(mimeType, "video/"):
		return string(message.TypeVideo)
	case strings.HasPrefix(mimeType, "audio/"):
		return string(message.TypeAudio)
	}
	return string(message.TypeDocument)
}

func invalid(format string, args ...any) error {
	return domain.Errorf(domain.KindInvalid, format, args...)
}

type qrJSON struct {
	QR        string    `json:"qr"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// getQR answers the QR code to scan, as JSON or (?format=png) as an image.
func (a *API) getQR(c *fiber.Ctx) error {
	qr, err := a.app.Queries.GetQR.Handle(c.UserContext(), application.GetQR{DeviceID: deviceOf(c)})
	if err != nil {
		return err
	}
	switch c.Query("format", "json") {
	case "json":
		return c.JSON(qrJSON{QR: qr.Code, ExpiresAt: qr.ExpiresAt})
	case "png":
		size, err := strconv.Atoi(c.Query("size", "512"))
		if err != nil || size < 128 || size > 2048 {
			return invalid("size must be between 128 and 2048 pixels")
		}
		png, err := qrcode.Encode(qr.Code, qrcode.Medium, size)
		if err != nil {
			return fmt.Errorf("encode QR code: %w", err)
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentType, "image/png")
		return c.Send(png)
	}
	return invalid("format must be json or png")
}

type pairCodeJSON struct {
	PhoneNumber string `json:"phoneNumber"`
}

func (a *API) requestPairingCode(c *fiber.Ctx) error {
	var body pairCodeJSON
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	code, err := a.app.Commands.RequestPairingCode.Handle(c.UserContext(), application.RequestPairingCode{
		DeviceID: deviceOf(c), PhoneNumber: body.PhoneNumber,
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"code": code})
}

// getMedia serves the file of a received message from the temporary file it was
// downloaded to, with its real size, ranges and conditional requests. ?chat= and
// ?sender= (a JID or phone number) pick one message when several senders used its id.
func (a *API) getMedia(w http.ResponseWriter, r *http.Request, access *key.Access) {
	id, err := scopedDevice(*access, r.Method, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f, err := a.app.Queries.GetMedia.Handle(r.Context(), application.GetMedia{
		DeviceID: id.String(), MessageID: r.PathValue("messageId"), Chat: q.Get("chat"), Sender: q.Get("sender"),
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer f.Content.Close()
	h := w.Header()
	h.Set("Content-Type", cmp.Or(f.Media.MimeType, "application/octet-stream"))
	disposition := "inline"
	if f.Media.FileName != "" {
		disposition = mime.FormatMediaType("attachment", map[string]string{"filename": f.Media.FileName})
	}
	h.Set("Content-Disposition", disposition)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", time.Time{}, f.Content)
}
