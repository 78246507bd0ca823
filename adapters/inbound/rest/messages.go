package rest

import (
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skip2/go-qrcode"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
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

func (a *API) sendMessage(c *fiber.Ctx) error {
	var cmd application.SendMessage
	var err error
	if mediaType(c.Get(fiber.HeaderContentType)) == "multipart/form-data" {
		cmd, err = sendFromForm(c)
	} else {
		cmd, err = sendFromJSON(c)
	}
	if err != nil {
		return err
	}
	cmd.DeviceID = c.Params("id")
	r, err := a.app.Commands.SendMessage.Handle(c.UserContext(), cmd)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(receiptJSON{ID: r.ID, To: r.To, Timestamp: r.Timestamp.UTC()})
}

func sendFromJSON(c *fiber.Ctx) (application.SendMessage, error) {
	var body sendJSON
	if err := decodeJSON(c, &body); err != nil {
		return application.SendMessage{}, err
	}
	m := message.Outgoing{To: body.To, Text: body.Text, ReplyTo: body.ReplyTo, Mentions: body.Mentions}
	var mediaURL string
	if md := body.Media; md != nil {
		if (md.URL == "") == (len(md.Data) == 0) {
			return application.SendMessage{}, invalid("media needs either url or data (base64), not both")
		}
		mediaURL = md.URL
		m.Media = &message.Attachment{Type: message.Type(md.Type), Data: md.Data, MimeType: md.MimeType, FileName: md.FileName}
	}
	if l := body.Location; l != nil {
		if l.Latitude == nil || l.Longitude == nil {
			return application.SendMessage{}, invalid("location needs latitude and longitude")
		}
		m.Location = &message.Location{Latitude: *l.Latitude, Longitude: *l.Longitude, Name: l.Name, Address: l.Address}
	}
	if ct := body.Contact; ct != nil {
		m.Contact = &message.Contact{Name: ct.Name, PhoneNumber: ct.PhoneNumber}
	}
	if r := body.Reaction; r != nil {
		m.Reaction = &message.Reaction{MessageID: r.MessageID, Emoji: r.Emoji}
	}
	return application.SendMessage{Message: m, MediaURL: mediaURL}, nil
}

// sendFromForm reads a multipart upload: fields to, text (the caption), replyTo,
// mentions (comma-separated), type, and the file in "file".
func sendFromForm(c *fiber.Ctx) (application.SendMessage, error) {
	form, err := c.MultipartForm()
	if err != nil {
		return application.SendMessage{}, errorf(codeInvalidJSON, "malformed multipart form")
	}
	field := func(name string) string {
		if v := form.Value[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	files := form.File["file"]
	if len(files) != 1 {
		return application.SendMessage{}, invalid(`a multipart message needs exactly one file in the "file" field`)
	}
	fh := files[0]
	f, err := fh.Open()
	if err != nil {
		return application.SendMessage{}, invalid("the uploaded file could not be read")
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return application.SendMessage{}, invalid("the uploaded file could not be read")
	}
	mimeType := fh.Header.Get(fiber.HeaderContentType)
	if mimeType == "application/octet-stream" {
		mimeType = "" // says nothing: left for the kind guess and WhatsApp
	}
	kind := field("type")
	if kind == "" {
		kind = kindOf(mimeType)
	}
	var mentions []string
	if s := field("mentions"); s != "" {
		mentions = strings.Split(s, ",")
	}
	return application.SendMessage{Message: message.Outgoing{
		To: field("to"), Text: field("text"), ReplyTo: field("replyTo"), Mentions: mentions,
		Media: &message.Attachment{Type: message.Type(kind), Data: data, MimeType: mimeType, FileName: fh.Filename},
	}}, nil
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
	qr, err := a.app.Queries.GetQR.Handle(c.UserContext(), application.GetQR{DeviceID: c.Params("id")})
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
		DeviceID: c.Params("id"), PhoneNumber: body.PhoneNumber,
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"code": code})
}

// getMedia streams the file of a received message.
func (a *API) getMedia(c *fiber.Ctx) error {
	f, err := a.app.Queries.GetMedia.Handle(c.UserContext(), application.GetMedia{
		DeviceID: c.Params("id"), MessageID: c.Params("messageId"),
	})
	if err != nil {
		return err
	}
	meta := f.Media
	if meta.MimeType != "" {
		c.Set(fiber.HeaderContentType, meta.MimeType)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	}
	disposition := "inline"
	if meta.FileName != "" {
		disposition = mime.FormatMediaType("attachment", map[string]string{"filename": meta.FileName})
	}
	c.Set(fiber.HeaderContentDisposition, disposition)
	c.Set("X-Content-Type-Options", "nosniff")
	return c.SendStream(f.Content, int(f.Size))
}
