package rest_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// TestChatCalls: read receipts, chat states, edits and revokes reach the device's
// WhatsApp client; bad input is refused before it; read-only keys may ask questions but
// not act.
func TestChatCalls(t *testing.T) {
	s := start(t, key, nil)
	pairing := s.pairing(t)
	if r := s.call(t, "POST", "/api/v1/devices/"+pairing+"/chats/15559876543/presence", `{"state":"composing"}`); r.status != 409 {
		t.Fatalf("presence from a device not ready: %d %s", r.status, r.body)
	}
	id := s.ready(t)
	dev := "/api/v1/devices/" + id
	const chat = "15559876543@s.whatsapp.net"
	for i, m := range []message.Message{
		{ID: "IN1", Chat: chat, Sender: message.Sender{JID: chat}, Type: message.TypeText, Text: "a"},
		{ID: "OUT", Chat: chat, FromMe: true, Sender: message.Sender{JID: "15551234567@s.whatsapp.net"}, Type: message.TypeText, Text: "b"},
		{ID: "IN2", Chat: chat, Sender: message.Sender{JID: chat}, Type: message.TypeText, Text: "c"},
		{ID: "OTHER", Chat: "15550000000@s.whatsapp.net", Sender: message.Sender{JID: "15550000000@s.whatsapp.net"}, Type: message.TypeText, Text: "d"},
	} {
		m.Timestamp = time.Now().Add(time.Duration(i) * time.Second)
		if err := s.wa.Deliver(device.ID(id), m); err != nil {
			t.Fatal(err)
		}
	}
	ok := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/chats/+15559876543/read", "", 200, `{"messageIds":["IN2","IN1"]}`},
		{"POST", "/chats/" + chat + "/read", `{"messageIds":["X1","X2"]}`, 200, `{"messageIds":["X1","X2"]}`},
		{"POST", "/chats/15559876543/presence", `{"state":"composing"}`, 204, ``},
		{"POST", "/chats/15559876543%40s.whatsapp.net/presence", `{"state":"recording"}`, 204, ``},
		{"POST", "/chats/15559876543/presence", `{"state":"paused"}`, 204, ``},
		{"PATCH", "/messages/OUT", `{"chat":"15559876543","text":"b!"}`, 200, ``},
		{"DELETE", "/messages/OUT?chat=%2B15559876543", "", 200, ``},
		{"POST", "/contacts/check", `{"phones":["+1 555 987 6543","99912345678"]}`, 200,
			`{"contacts":[{"phone":"+1 555 987 6543","onWhatsApp":true,"jid":"15559876543@s.whatsapp.net","lid":null},{"phone":"99912345678","onWhatsApp":false,"jid":null,"lid":null}]}`},
		{"GET", "/contacts/15559876543/picture", "", 200, `{"id":"1","url":"https://pps.whatsapp.net/v/15559876543@s.whatsapp.net.jpg"}`},
	}
	for _, c := range ok {
		r := s.call(t, c.method, dev+c.path, c.body)
		got := string(r.body)
		if len(got) > 0 && got[len(got)-1] == '\n' {
			got = got[:len(got)-1]
		}
		if r.status != c.status || (c.want != "" && got != c.want) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, r.status, r.body, c.status, c.want)
		}
		if c.method == "PATCH" || c.method == "DELETE" {
			if body := r.json(t); body["id"] == "" || body["to"] != chat {
				t.Errorf("%s %s: %s", c.method, c.path, r.body)
			}
		}
	}
	want := []string{
		"read " + chat + " IN2,IN1", "read " + chat + " X1,X2",
		"state " + chat + " composing", "state " + chat + " recording", "state " + chat + " paused",
		"edit " + chat + " OUT b!", "revoke " + chat + " OUT",
	}
	if got := s.wa.Actions(device.ID(id)); !slices.Equal(got, want) {
		t.Fatalf("actions\n got %q\nwant %q", got, want)
	}

	for _, bad := range []struct{ method, path, body, code string }{
		{"POST", "/chats/15559876543/presence", `{"state":"dancing"}`, "invalid_request"},
		{"POST", "/chats/15559876543/presence", `{"state":"paused","x":1}`, "invalid_json"},
		{"POST", "/chats/15559876543/read", `{"messageIds":"X1"}`, "invalid_json"},
		{"PATCH", "/messages/OUT", `{"chat":"15559876543"}`, "invalid_request"},
		{"PATCH", "/messages/OUT", `{"text":"x"}`, "invalid_request"},
		{"DELETE", "/messages/OUT", "", "invalid_request"},
		{"POST", "/contacts/check", `{"phones":[]}`, "invalid_request"},
		{"POST", "/contacts/check", `{"phones":["12"]}`, "invalid_request"},
		{"GET", "/contacts/not%20a%20number/picture", "", "invalid_request"},
	} {
		r := s.call(t, bad.method, dev+bad.path, bad.body)
		if code, _ := r.errorOf(t); r.status != 400 || code != bad.code {
			t.Errorf("%s %s %s: %d %s, want 400 %s", bad.method, bad.path, bad.body, r.status, r.body, bad.code)
		}
	}
	if r := s.call(t, "GET", dev+"/contacts/99912345678/picture", ""); r.status != 404 {
		t.Errorf("picture of a contact without one: %d %s", r.status, r.body)
	}
	if n := len(s.wa.Actions(device.ID(id))); n != len(want) {
		t.Fatalf("%d actions after refused requests, want %d", n, len(want))
	}

	reader, _ := s.newKey(t, `{"name":"dash","role":"read-only"}`)
	as := func(method, path, body string) response {
		return s.do(t, method, dev+path, stringsReader(body), "X-API-Key", reader, "Content-Type", "application/json")
	}
	for _, path := range []string{"/chats/15559876543/read", "/chats/15559876543/presence"} {
		if r := as("POST", path, `{"state":"paused"}`); r.status != http.StatusForbidden {
			t.Errorf("read-only %s: %d %s", path, r.status, r.body)
		}
	}
	if r := as("DELETE", "/messages/OUT?chat=15559876543", ""); r.status != http.StatusForbidden {
		t.Errorf("read-only revoke: %d %s", r.status, r.body)
	}
	if r := as("POST", "/contacts/check", `{"phones":["15559876543"]}`); r.status != 200 {
		t.Errorf("read-only check: %d %s", r.status, r.body)
	}
	if r := as("GET", "/contacts/15559876543/picture", ""); r.status != 200 {
		t.Errorf("read-only picture: %d %s", r.status, r.body)
	}
}

func stringsReader(s string) io.Reader {
	if s == "" {
		return nil
	}
	return strings.NewReader(s)
}
