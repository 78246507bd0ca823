package rest_test

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// pairing creates a device and connects it: the memory WhatsApp shows a QR code.
func (s *server) pairing(t *testing.T) string {
	t.Helper()
	id := s.create(t, "Phone")["id"].(string)
	if r := s.call(t, "POST", "/api/v1/devices/"+id+"/connect", ""); r.status != http.StatusAccepted {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	s.waitStatus(t, id, "pairing")
	return id
}

// ready creates a device and links it.
func (s *server) ready(t *testing.T) string {
	t.Helper()
	id := s.pairing(t)
	if _, err := s.wa.Scan(device.ID(id), "15551234567", "Ann"); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, id, "ready")
	return id
}

func (s *server) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s.call(t, "GET", "/api/v1/devices/"+id, "").json(t)["status"] == status {
			return
		}
	}
	t.Fatalf("device never became %s", status)
}

func TestQR(t *testing.T) {
	s := start(t, key, nil)
	created := s.create(t, "Phone")["id"].(string)
	r := s.call(t, "GET", "/api/v1/devices/"+created+"/qr", "")
	if code, _ := r.errorOf(t); r.status != 409 || code != "conflict" {
		t.Fatalf("QR of a device not pairing: %d %s", r.status, r.body)
	}
	id := s.pairing(t)
	want, _ := s.wa.QR(device.ID(id))
	r = s.call(t, "GET", "/api/v1/devices/"+id+"/qr", "")
	if body := r.json(t); r.status != 200 || body["qr"] != want || body["expiresAt"] == nil {
		t.Fatalf("QR: %d %s, want %s", r.status, r.body, want)
	}
	r = s.call(t, "GET", "/api/v1/devices/"+id+"/qr?format=png", "")
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(r.body, []byte("\x89PNG")) {
		t.Fatalf("PNG: %d %s %q", r.status, r.header.Get("Content-Type"), r.body[:min(8, len(r.body))])
	}
	for _, q := range []string{"?format=gif", "?format=png&size=10"} {
		if r := s.call(t, "GET", "/api/v1/devices/"+id+"/qr"+q, ""); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func TestPairingCode(t *testing.T) {
	s := start(t, key, nil)
	created := s.create(t, "Phone")["id"].(string)
	if r := s.call(t, "POST", "/api/v1/devices/"+created+"/pair-code", `{"phoneNumber":"+1 555 123 4567"}`); r.status != 409 {
		t.Fatalf("pair code for a device not pairing: %d %s", r.status, r.body)
	}
	id := s.pairing(t)
	for _, bad := range []string{`{"phoneNumber":"12"}`, `{"phoneNumber":"+1555abc"}`, `{}`} {
		if r := s.call(t, "POST", "/api/v1/devices/"+id+"/pair-code", bad); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	r := s.call(t, "POST", "/api/v1/devices/"+id+"/pair-code", `{"phoneNumber":"+1 555 123 4567"}`)
	code, _ := r.json(t)["code"].(string)
	if r.status != 200 || len(code) != 9 || code[4] != '-' {
		t.Fatalf("pair code: %d %s", r.status, r.body)
	}
	if _, err := s.wa.EnterCode(device.ID(id), code, "Ann"); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, id, "ready")
	if got := s.call(t, "GET", "/api/v1/devices/"+id, "").json(t)["phoneNumber"]; got != "15551234567" {
		t.Fatalf("linked phone %v", got)
	}
}

func TestSendMessage(t *testing.T) {
	s := start(t, key, nil)
	pairing := s.pairing(t)
	r := s.call(t, "POST", "/api/v1/devices/"+pairing+"/messages", `{"to":"+15559876543","text":"hi"}`)
	if code, _ := r.errorOf(t); r.status != 409 || code != "conflict" {
		t.Fatalf("send from a device not ready: %d %s", r.status, r.body)
	}
	id := s.ready(t)
	path := "/api/v1/devices/" + id + "/messages"
	r = s.call(t, "POST", path, `{"to":"+1 555 987 6543","text":"hello","replyTo":"3EB0X","mentions":["15550001111"]}`)
	body := r.json(t)
	if r.status != 201 || body["id"] == "" || body["to"] != "15559876543@s.whatsapp.net" || body["timestamp"] == nil {
		t.Fatalf("send text: %d %s", r.status, r.body)
	}
	png := []byte("\x89PNG\r\n\x1a\nfake")
	s.files.Put("https://cdn.example.com/cat.png", message.File{Data: png, MimeType: "image/png", FileName: "cat.png"})
	for _, ok := range []string{
		`{"to":"15559876543","text":"a cat","media":{"type":"image","data":"` + base64.StdEncoding.EncodeToString(png) + `","mimetype":"image/png"}}`,
		`{"to":"15559876543","media":{"type":"image","url":"https://cdn.example.com/cat.png"}}`,
		`{"to":"15559876543","location":{"latitude":52.52,"longitude":13.405,"name":"Berlin"}}`,
		`{"to":"15559876543","contact":{"name":"Bob","phoneNumber":"+15550002222"}}`,
		`{"to":"15559876543","reaction":{"messageId":"3EB0X","emoji":"👍"}}`,
		`{"to":"15559876543@s.whatsapp.net","text":"to a JID"}`,
	} {
		if r := s.call(t, "POST", path, ok); r.status != 201 {
			t.Errorf("%s: %d %s", ok[:min(60, len(ok))], r.status, r.body)
		}
	}
	sent := s.wa.Sent(device.ID(id))
	if len(sent) != 7 || sent[0].ReplyTo != "3EB0X" || sent[0].Mentions[0] != "15550001111" ||
		!bytes.Equal(sent[1].Media.Data, png) || sent[1].Text != "a cat" ||
		!bytes.Equal(sent[2].Media.Data, png) || sent[2].Media.FileName != "cat.png" || sent[2].Media.MimeType != "image/png" ||
		sent[3].Location.Latitude != 52.52 || sent[4].Contact.Name != "Bob" || sent[5].Reaction.Emoji != "👍" {
		t.Fatalf("sent %+v", sent)
	}
	for _, bad := range []struct{ body, code string }{
		{`{"text":"no recipient"}`, "invalid_request"},
		{`{"to":"15559876543"}`, "invalid_request"},
		{`{"to":"not a number","text":"x"}`, "invalid_request"},
		{`{"to":"15559876543","text":"x","location":{"latitude":1}}`, "invalid_request"},
		{`{"to":"15559876543","location":{"latitude":1,"longitude":2},"contact":{"name":"a","phoneNumber":"1"}}`, "invalid_request"},
		{`{"to":"15559876543","media":{"type":"image"}}`, "invalid_request"},
		{`{"to":"15559876543","media":{"type":"image","url":"https://x/y","data":"AAAA"}}`, "invalid_request"},
		{`{"to":"15559876543","media":{"type":"spreadsheet","data":"AAAA"}}`, "invalid_request"},
		{`{"to":"15559876543","media":{"type":"image","data":"not base64!"}}`, "invalid_json"},
		{`{"to":"15559876543","media":{"type":"image","url":"https://cdn.example.com/missing.png"}}`, "invalid_request"},
		{`{"to":"15559876543","text":"x","colour":"red"}`, "invalid_json"},
	} {
		r := s.call(t, "POST", path, bad.body)
		if code, _ := r.errorOf(t); r.status != 400 || code != bad.code {
			t.Errorf("%s: %d %s", bad.body, r.status, r.body)
		}
	}
	if n := len(s.wa.Sent(device.ID(id))); n != 7 {
		t.Fatalf("%d messages sent; rejected requests sent some", n)
	}
}

func TestSendUpload(t *testing.T) {
	s := start(t, key, nil)
	id := s.ready(t)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("to", "+15559876543")
	w.WriteField("text", "the report")
	part, _ := w.CreatePart(map[string][]string{
		"Content-Disposition": {`form-data; name="file"; filename="report.pdf"`},
		"Content-Type":        {"application/pdf"},
	})
	pdf := bytes.Repeat([]byte("%PDF"), 500_000) // 2 MB: over the plain body limit
	part.Write(pdf)
	w.Close()
	r := s.do(t, "POST", "/api/v1/devices/"+id+"/messages", &buf, "X-API-Key", key, "Content-Type", w.FormDataContentType())
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	m := s.wa.Sent(device.ID(id))[0]
	if m.Media.Type != message.TypeDocument || m.Media.FileName != "report.pdf" || m.Media.MimeType != "application/pdf" || !bytes.Equal(m.Media.Data, pdf) || m.Text != "the report" {
		t.Fatalf("sent %v %v %v %d", m.Media.Type, m.Media.FileName, m.Media.MimeType, len(m.Media.Data))
	}
	huge := strings.NewReader(`{"to":"1555","media":{"type":"image","data":"` + strings.Repeat("A", 8<<20) + `"}}`)
	r = s.do(t, "POST", "/api/v1/devices/"+id+"/messages", huge, "X-API-Key", key, "Content-Type", "application/json")
	if code, _ := r.errorOf(t); r.status != 413 || code != "payload_too_large" {
		t.Fatalf("media over the limit: %d %s", r.status, r.body)
	}
}

func TestReceivedMedia(t *testing.T) {
	s := start(t, key, nil)
	id := s.ready(t)
	data := []byte("%PDF-1.4 invoice")
	if err := s.wa.Deliver(device.ID(id), message.Message{
		ID: "3EB0DOC", Type: message.TypeDocument,
		Media: &message.Media{MimeType: "application/pdf", Size: int64(len(data)), FileName: "invoice.pdf"},
	}, data...); err != nil {
		t.Fatal(err)
	}
	r := s.call(t, "GET", "/api/v1/devices/"+id+"/messages/3EB0DOC/media", "")
	if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("Content-Type") != "application/pdf" ||
		r.header.Get("Content-Disposition") != `attachment; filename=invoice.pdf` {
		t.Fatalf("media: %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("Content-Length") != "16" || r.header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("media headers: %v", r.header)
	}
	r = s.do(t, "GET", "/api/v1/devices/"+id+"/messages/3EB0DOC/media", nil, "X-API-Key", key, "Range", "bytes=0-3")
	if r.status != 206 || string(r.body) != "%PDF" || r.header.Get("Content-Range") != "bytes 0-3/16" {
		t.Fatalf("range: %d %q %v", r.status, r.body, r.header)
	}
	r = s.call(t, "GET", "/api/v1/devices/"+id+"/messages/NOPE/media", "")
	if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
		t.Fatalf("unknown media: %d %s", r.status, r.body)
	}
}
