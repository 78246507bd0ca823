package device_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

const testDevice = "0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"

// encode is the payload of e as the log keeps it and listeners get it, numbered 42.
func encode(tb testing.TB, e device.Event) string {
	tb.Helper()
	b, err := device.EncodePayload(e, 42)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestPayloads checks each event as a listener receives it. Its first case of each
// kind carries every field; every kind of event in package device must have one, and
// its payload must hold more than the deviceId and timestamp that all events share.
func TestPayloads(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := device.Header{DeviceID: testDevice, At: at}
	head := `"deviceId":"` + testDevice + `","eventId":"42"`
	ts := `"timestamp":1795694400000`
	m := message.Message{ID: "3EB0", Chat: "1555@s.whatsapp.net", Type: message.TypeText, Text: "hi", Sender: message.Sender{JID: "1555@s.whatsapp.net"}, Timestamp: at}
	cases := []struct {
		event device.Event
		want  string
	}{
		{device.QR{Header: h, Code: "2@abc", ExpiresAt: at.Add(time.Minute)}, `{` + head + `,"qr":"2@abc",` + ts + `}`},
		{device.Authenticated{Header: h, PhoneNumber: "1555", ClientName: "Ann"}, `{"clientName":"Ann",` + head + `,"phoneNumber":"1555",` + ts + `}`},
		{device.Ready{Header: h, PhoneNumber: "1555"}, `{` + head + `,"phoneNumber":"1555",` + ts + `}`},
		{device.Ready{Header: h}, `{` + head + `,` + ts + `}`},
		{device.MessageReceived{Header: h, Message: m}, `{` + head + `,"message":{"caption":null,"chat":"1555@s.whatsapp.net","contact":null,` +
			`"fromMe":false,"id":"3EB0","isGroup":false,"location":null,"media":null,"mentions":[],"pushName":null,"quotedId":null,` +
			`"reaction":null,"sender":{"jid":"1555@s.whatsapp.net","lid":null,"phoneNumber":null},"targetId":null,"text":"hi",` + ts + `,"type":"text"},` + ts + `}`},
		{device.Receipt{Header: h, Update: message.StatusUpdate{Status: message.StatusRead, MessageIDs: []string{"3EB0", "3EB1"}, Chat: "1555@s.whatsapp.net",
			From: message.Sender{JID: "1555@s.whatsapp.net", PhoneNumber: "1555", LID: "100@lid"}}},
			`{"chat":"1555@s.whatsapp.net",` + head + `,"from":{"jid":"1555@s.whatsapp.net","lid":"100@lid","phoneNumber":"1555"},"fromMe":false,` +
				`"messageIds":["3EB0","3EB1"],"status":"read",` + ts + `}`},
		{device.StateChanged{Header: h, Status: device.StatusPairing}, `{` + head + `,"status":"pairing",` + ts + `}`},
		{device.Disconnected{Header: h, Reason: device.ReasonQRTimeout}, `{` + head + `,"reason":"qr_timeout",` + ts + `}`},
	}
	full := map[string]bool{} // event name -> whether its first case has a field of its own
	for _, tc := range cases {
		name := tc.event.Name()
		want := tc.want
		if got := encode(t, tc.event); got != want {
			t.Errorf("%s packet\n got %s\nwant %s", name, got, want)
		}
		if _, seen := full[name]; !seen {
			full[name] = len(device.Payload(tc.event, 42)) > 3 // more than deviceId, eventId and timestamp
		}
	}
	if names := eventNames(t); !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(device.EventNames))) {
		t.Errorf("device.EventNames is %v, want every event's name: %v", device.EventNames, names)
	}
	for _, name := range eventNames(t) {
		switch carries, ok := full[name]; {
		case !ok:
			t.Errorf("event %q of package device has no case here: add one with every field", name)
		case !carries:
			t.Errorf("event %q has no payload of its own: its fill method sets nothing", name)
		}
	}
}

// eventNames reads the names of the events of package device from its source: the
// string each Name method returns.
func eventNames(t *testing.T) []string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self)
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range pkgs["device"].Files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Name" || len(fn.Body.List) != 1 {
				continue
			}
			ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
			if !ok || len(ret.Results) != 1 {
				continue
			}
			if lit, ok := ret.Results[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, _ := strconv.Unquote(lit.Value)
				names = append(names, name)
			}
		}
	}
	if len(names) < 6 {
		t.Fatalf("found only events %v in %s", names, dir)
	}
	slices.Sort(names)
	return names
}

func TestMessagePayload(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := message.Message{
		ID: "3EB0", Chat: "15559876543@s.whatsapp.net", PushName: "Bob", Type: message.TypeDocument,
		Sender:  message.Sender{JID: "123@lid", PhoneNumber: "15559876543", LID: "123@lid"},
		Caption: "report", Media: &message.Media{MimeType: "application/pdf", Size: 1234, FileName: "r.pdf"},
		QuotedID: "3EA9", Timestamp: at,
	}
	got := encode(t, device.NewMessageReceived(testDevice, m, at))
	want := `{"deviceId":"` + testDevice + `","eventId":"42","message":{"caption":"report","chat":"15559876543@s.whatsapp.net",` +
		`"contact":null,"fromMe":false,"id":"3EB0","isGroup":false,"location":null,` +
		`"media":{"fileName":"r.pdf","mimetype":"application/pdf","size":1234},"mentions":[],"pushName":"Bob","quotedId":"3EA9",` +
		`"reaction":null,"sender":{"jid":"123@lid","lid":"123@lid","phoneNumber":"15559876543"},"targetId":null,"text":null,` +
		`"timestamp":1795694400000,"type":"document"},"timestamp":1795694400000}`
	if got != want {
		t.Fatalf("message packet\n got %s\nwant %s", got, want)
	}
}

// BenchmarkEncodePayload: encoding one `message` event, as the log stores it once for
// every listener, feed and webhook.
func BenchmarkEncodePayload(b *testing.B) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := message.Message{
		ID: "3EB0", Chat: "15559876543@s.whatsapp.net", PushName: "Bob", Type: message.TypeText, Text: "hello there",
		Sender: message.Sender{JID: "123@lid", PhoneNumber: "15559876543", LID: "123@lid"}, Timestamp: at,
	}
	e := device.NewMessageReceived(testDevice, m, at)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := device.EncodePayload(e, 42); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChangePayloads: incoming edits, revokes and reactions say which message they
// change in targetId; an edit carries the new text.
func TestChangePayloads(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		m    message.Message
		want string
	}{
		{message.Message{Type: message.TypeEdit, Text: "fixed", TargetID: "3EA9"}, `"targetId":"3EA9","text":"fixed",`},
		{message.Message{Type: message.TypeRevoke, TargetID: "3EA9"}, `"targetId":"3EA9","text":null,`},
		{message.Message{Type: message.TypeReaction, Reaction: &message.Reaction{MessageID: "3EA9", Emoji: "👍"}, TargetID: "3EA9"}, `"targetId":"3EA9","text":null,`},
		{message.Message{Type: message.TypeUndecryptable}, `"targetId":null,"text":null,`},
	} {
		tc.m.ID, tc.m.Timestamp = "3EB0", at
		got := encode(t, device.NewMessageReceived(testDevice, tc.m, at))
		if !strings.Contains(got, tc.want) || !strings.Contains(got, `"type":"`+string(tc.m.Type)+`"`) {
			t.Errorf("%s: %s lacks %s", tc.m.Type, got, tc.want)
		}
	}
}
