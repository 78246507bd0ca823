package rest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// receive plays a message arriving on a device, as its WhatsApp session reports it.
func (s *server) receive(t *testing.T, id, msgID, chat string) {
	t.Helper()
	m := message.Message{ID: msgID, Chat: chat, Sender: message.Sender{JID: chat}, Type: message.TypeText, Text: "text of " + msgID}
	if err := s.app.Commands.Sessions.HandleSession(t.Context(), device.ID(id), device.SessionMessage{Message: m}); err != nil {
		t.Fatal(err)
	}
}

type eventJSON struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// feed reads a page of an event feed, checking that it is exactly
// {"events":[{"id","event","data"}],"next"} and that each event's data is the payload
// the log keeps for it (the Socket.io payload), eventId included.
func (s *server) feed(t *testing.T, secret, path string) (events []eventJSON, next string) {
	t.Helper()
	r := s.as(t, secret, "GET", path, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d %s %s", path, r.status, r.header.Get("Content-Type"), r.body)
	}
	var page map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &page); err != nil || !slices.Equal(slices.Sorted(maps.Keys(page)), []string{"events", "next"}) {
		t.Fatalf("%s: body %s is not {events, next}", path, r.body)
	}
	if err := json.Unmarshal(page["next"], &next); err != nil {
		t.Fatalf("%s: next %s is not a string", path, page["next"])
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(page["events"], &raw); err != nil || raw == nil {
		t.Fatalf("%s: events %s is not an array", path, page["events"])
	}
	recs, err := s.store.Log.Read(t.Context(), device.LogQuery{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range raw {
		if !slices.Equal(slices.Sorted(maps.Keys(e)), []string{"data", "event", "id"}) {
			t.Fatalf("%s: event %v is not {id, event, data}", path, e)
		}
		var ev eventJSON
		b, _ := json.Marshal(e)
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: event %s: %v", path, b, err)
		}
		i := slices.IndexFunc(recs, func(r device.Record) bool { return r.ID.String() == ev.ID })
		if i < 0 {
			t.Fatalf("%s: event %s is not in the log", path, ev.ID)
		}
		if ev.Event != recs[i].Name || !bytes.Equal(ev.Data, recs[i].Payload) {
			t.Fatalf("%s: event %s %s %s, the log has %s %s", path, ev.ID, ev.Event, ev.Data, recs[i].Name, recs[i].Payload)
		}
		var p struct{ EventID string }
		if err := json.Unmarshal(ev.Data, &p); err != nil || p.EventID != ev.ID {
			t.Fatalf("%s: event %s carries eventId %q", path, ev.ID, p.EventID)
		}
		events = append(events, ev)
	}
	return events, next
}

func ids(events []eventJSON) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func TestEventFeeds(t *testing.T) {
	s := start(t, key, nil)
	a, b := s.create(t, "A")["id"].(string), s.create(t, "B")["id"].(string)
	for i, id := range []string{a, b, a, b, a} { // events 1 to 5
		s.receive(t, id, fmt.Sprint("m", i+1), "1555@s.whatsapp.net")
	}

	// Paging through everything, following next.
	var all []string
	pages := 0
	for next := ""; ; pages++ {
		if pages > 5 {
			t.Fatalf("still paging after %d pages: %v", pages, all)
		}
		page, n := s.feed(t, key, "/api/v1/events?limit=2&after="+next)
		if len(page) == 0 {
			if n != next {
				t.Fatalf("an empty page moved the cursor from %q to %q", next, n)
			}
			break
		}
		if n != page[len(page)-1].ID {
			t.Fatalf("next %q after a page ending with %s", n, page[len(page)-1].ID)
		}
		all, next = append(all, ids(page)...), n
	}
	if !slices.Equal(all, []string{"1", "2", "3", "4", "5"}) || pages != 3 {
		t.Fatalf("paged through %v in %d pages", all, pages)
	}
	if page, _ := s.feed(t, key, "/api/v1/events"); len(page) != 5 || page[0].Event != "message" {
		t.Fatalf("default page: %v", ids(page))
	}

	// One device's feed.
	for _, tc := range []struct {
		path string
		ids  []string
		next string
	}{
		{"/api/v1/devices/" + a + "/events?limit=2", []string{"1", "3"}, "3"},
		{"/api/v1/devices/" + a + "/events?limit=2&after=3", []string{"5"}, "5"},
		{"/api/v1/devices/" + a + "/events?after=5", []string{}, "5"},
		{"/api/v1/devices/" + b + "/events", []string{"2", "4"}, "4"},
	} {
		if page, next := s.feed(t, key, tc.path); !slices.Equal(ids(page), tc.ids) || next != tc.next {
			t.Errorf("%s: %v next %q, want %v next %q", tc.path, ids(page), next, tc.ids, tc.next)
		}
	}
}

// A key limited to a device sees that device's events and messages only; read-only
// keys may read them.
func TestEventFeedsFollowTheKeysScope(t *testing.T) {
	s := start(t, key, nil)
	a, b := s.create(t, "A")["id"].(string), s.create(t, "B")["id"].(string)
	for i, id := range []string{a, b, a, b} {
		s.receive(t, id, fmt.Sprint("m", i+1), "1555@s.whatsapp.net")
	}
	for _, role := range []string{"read-only", "operator"} {
		secret, _ := s.newKey(t, `{"name":"a only","role":"`+role+`","devices":["`+a+`"]}`)
		if page, next := s.feed(t, secret, "/api/v1/events"); !slices.Equal(ids(page), []string{"1", "3"}) || next != "3" {
			t.Fatalf("%s key limited to A: %v next %q", role, ids(page), next)
		}
		if page, _ := s.feed(t, secret, "/api/v1/events?after=3"); len(page) != 0 {
			t.Fatalf("%s key limited to A, after B's events: %v", role, ids(page))
		}
		if page, _ := s.feed(t, secret, "/api/v1/devices/"+a+"/events"); !slices.Equal(ids(page), []string{"1", "3"}) {
			t.Fatalf("%s key limited to A, A's feed: %v", role, ids(page))
		}
		if r := s.as(t, secret, "GET", "/api/v1/devices/"+a+"/messages", ""); r.status != http.StatusOK {
			t.Fatalf("%s key limited to A, A's messages: %d %s", role, r.status, r.body)
		}
		for _, path := range []string{"/api/v1/devices/" + b + "/events", "/api/v1/devices/" + b + "/messages"} {
			r := s.as(t, secret, "GET", path, "")
			if code, msg := r.errorOf(t); r.status != http.StatusNotFound || code != "not_found" || msg != "device "+b+" not found" {
				t.Errorf("%s key limited to A, %s: %d %s", role, path, r.status, r.body)
			}
		}
	}
	// A key limited to a device that has no events yet sees none of the others'.
	c := s.create(t, "C")["id"].(string)
	secret, _ := s.newKey(t, `{"name":"c only","role":"read-only","devices":["`+c+`"]}`)
	if page, next := s.feed(t, secret, "/api/v1/events"); len(page) != 0 || next != "0" {
		t.Fatalf("key limited to C: %v next %q", ids(page), next)
	}
}

func TestEventAndMessageQueriesAreChecked(t *testing.T) {
	s := start(t, key, nil)
	id := s.create(t, "A")["id"].(string)
	const unknown = "0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"
	for _, tc := range []struct {
		path    string
		status  int
		code    string
		message string
	}{
		{"/api/v1/events?after=x", 400, "invalid_request", `event id must be a non-negative integer, got "x"`},
		{"/api/v1/events?after=-1", 400, "invalid_request", `event id must be a non-negative integer, got "-1"`},
		{"/api/v1/events?after=1.5", 400, "invalid_request", `event id must be a non-negative integer, got "1.5"`},
		{"/api/v1/events?limit=x", 400, "invalid_request", "query parameter limit must be an integer"},
		{"/api/v1/events?limit=-1", 400, "invalid_request", "limit must be between 1 and 1000"},
		{"/api/v1/events?limit=1001", 400, "invalid_request", "limit must be between 1 and 1000"},
		{"/api/v1/devices/" + id + "/events?after=x", 400, "invalid_request", `event id must be a non-negative integer, got "x"`},
		{"/api/v1/devices/" + id + "/events?limit=1001", 400, "invalid_request", "limit must be between 1 and 1000"},
		{"/api/v1/devices/not-a-uuid/events", 400, "invalid_request", ""},
		{"/api/v1/devices/" + unknown + "/events", 404, "not_found", "device " + unknown + " not found"},
		{"/api/v1/devices/" + id + "/messages?limit=x", 400, "invalid_request", "query parameter limit must be an integer"},
		{"/api/v1/devices/" + id + "/messages?limit=501", 400, "invalid_request", "limit must be between 1 and 500"},
		{"/api/v1/devices/" + id + "/messages?limit=0x10", 400, "invalid_request", "query parameter limit must be an integer"},
		{"/api/v1/devices/" + id + "/messages?before=bogus", 400, "invalid_request", "before is not a cursor this gateway gave"},
		{"/api/v1/devices/not-a-uuid/messages", 400, "invalid_request", ""},
		{"/api/v1/devices/" + unknown + "/messages", 404, "not_found", "device " + unknown + " not found"},
	} {
		r := s.call(t, "GET", tc.path, "")
		code, msg := r.errorOf(t)
		if r.status != tc.status || code != tc.code || (tc.message != "" && msg != tc.message) {
			t.Errorf("%s: %d %s %q, want %d %s %q", tc.path, r.status, code, msg, tc.status, tc.code, tc.message)
		}
	}
	if r := s.do(t, "GET", "/api/v1/events", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("events without a key: %d %s", r.status, r.body)
	}
}

// history reads a page of a device's messages, checking that it is exactly
// {"messages":[...],"next":"..."}, and returns the messages' ids.
func (s *server) history(t *testing.T, path string) (ids []string, messages []json.RawMessage, next string) {
	t.Helper()
	r := s.call(t, "GET", path, "")
	var page map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &page); r.status != http.StatusOK || err != nil || !slices.Equal(slices.Sorted(maps.Keys(page)), []string{"messages", "next"}) {
		t.Fatalf("%s: %d %s is not {messages, next}", path, r.status, r.body)
	}
	if err := json.Unmarshal(page["next"], &next); err != nil {
		t.Fatalf("%s: next %s is not a string", path, page["next"])
	}
	if err := json.Unmarshal(page["messages"], &messages); err != nil || messages == nil {
		t.Fatalf("%s: messages %s is not an array", path, page["messages"])
	}
	ids = []string{}
	for _, m := range messages {
		var p struct{ ID string }
		if err := json.Unmarshal(m, &p); err != nil {
			t.Fatalf("%s: message %s", path, m)
		}
		ids = append(ids, p.ID)
	}
	return ids, messages, next
}

func TestMessageHistory(t *testing.T) {
	s := start(t, key, nil)
	a, b := s.create(t, "A")["id"].(string), s.create(t, "B")["id"].(string)
	if ids, _, next := s.history(t, "/api/v1/devices/"+a+"/messages"); len(ids) != 0 || next != "" {
		t.Fatalf("no messages yet: %v next %q", ids, next)
	}
	const x, y = "1555@s.whatsapp.net", "120363@g.us"
	s.receive(t, a, "m1", x)
	s.receive(t, b, "b1", x)
	s.receive(t, a, "m2", y)
	s.receive(t, a, "m3", x)

	ids, messages, next := s.history(t, "/api/v1/devices/"+a+"/messages")
	if !slices.Equal(ids, []string{"m3", "m2", "m1"}) || next != "" {
		t.Fatalf("history: %v next %q", ids, next)
	}
	// Each is the `message` object of its event.
	events, _ := s.feed(t, key, "/api/v1/devices/"+a+"/events")
	for i, e := range events {
		var p struct{ Message json.RawMessage }
		if err := json.Unmarshal(e.Data, &p); err != nil || !bytes.Equal(p.Message, messages[len(messages)-1-i]) {
			t.Fatalf("message %s in the history, %s in its event", messages[len(messages)-1-i], p.Message)
		}
	}
	ids, _, next = s.history(t, "/api/v1/devices/"+a+"/messages?limit=2")
	if !slices.Equal(ids, []string{"m3", "m2"}) || next == "" {
		t.Fatalf("first page: %v next %q", ids, next)
	}
	if ids, _, next := s.history(t, "/api/v1/devices/"+a+"/messages?limit=2&before="+next); !slices.Equal(ids, []string{"m1"}) || next != "" {
		t.Fatalf("second page: %v next %q", ids, next)
	}
	if ids, _, _ := s.history(t, "/api/v1/devices/"+a+"/messages?chat="+x); !slices.Equal(ids, []string{"m3", "m1"}) {
		t.Fatalf("chat %s: %v", x, ids)
	}
	if ids, _, _ := s.history(t, "/api/v1/devices/"+b+"/messages"); !slices.Equal(ids, []string{"b1"}) {
		t.Fatalf("B's history: %v", ids)
	}
}
