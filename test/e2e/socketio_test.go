package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

type gateway struct {
	*bootstrap.InMemory
	base string
	api  client
}

func startGateway(t *testing.T, cfg bootstrap.Config) gateway {
	t.Helper()
	gw, err := bootstrap.BuildInMemory(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, gw.Gateway)
	return gateway{InMemory: gw, base: base, api: client{t, base}}
}

func (g gateway) createDevice(name string) string {
	var d deviceJSON
	g.api.call("POST", "/api/v1/devices", `{"name":"`+name+`"}`, http.StatusCreated, &d)
	return d.ID
}

func (g gateway) connect(id string) {
	g.api.call("POST", "/api/v1/devices/"+id+"/connect", "", http.StatusAccepted, nil)
}

// keysOf lists a payload's fields, sorted.
func keysOf(m map[string]any) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// expectPayload checks the next event's name, its exact fields and the device it names.
func expectPayload(t *testing.T, p *process, name, fields, deviceID string) clientEvent {
	t.Helper()
	return checkPayload(t, p.expect(name), fields, deviceID)
}

// fields are the contract's; every payload carries eventId besides, its id in the log.
func checkPayload(t *testing.T, ev clientEvent, fields, deviceID string) clientEvent {
	t.Helper()
	name := ev.Event
	want := strings.Split(fields+",eventId", ",")
	slices.Sort(want)
	if got := keysOf(ev.Data); got != strings.Join(want, ",") {
		t.Fatalf("%s payload fields %s, want %s and eventId: %v", name, got, fields, ev.Data)
	}
	if id, ok := ev.Data["eventId"].(string); !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		t.Fatalf("%s eventId %v is not an event id (a string of digits)", name, ev.Data["eventId"])
	}
	if ev.Data["deviceId"] != deviceID {
		t.Fatalf("%s for device %v, want %s", name, ev.Data["deviceId"], deviceID)
	}
	ts, ok := ev.Data["timestamp"].(float64)
	if !ok || time.Since(time.UnixMilli(int64(ts))).Abs() > time.Minute {
		t.Fatalf("%s timestamp %v is not Unix milliseconds of now", name, ev.Data["timestamp"])
	}
	return ev
}

func expectState(t *testing.T, p *process, status, deviceID string) {
	t.Helper()
	ev := p.take("state "+status, func(ev clientEvent) bool { return ev.Event == "state" && ev.Data["status"] == status })
	checkPayload(t, ev, "deviceId,status,timestamp", deviceID)
}

// driveFlow takes a device through qr → authenticated → ready → message → state →
// disconnected while a listener watches, checking every payload.
func driveFlow(t *testing.T, g gateway, p *process, id string) {
	t.Helper()
	g.connect(id)
	expectState(t, p, "connecting", id)
	expectState(t, p, "pairing", id)
	qr := expectPayload(t, p, "qr", "deviceId,qr,timestamp", id)
	code, err := g.WhatsApp.QR(device.ID(id))
	if err != nil || qr.Data["qr"] != code {
		t.Fatalf("qr %v, session shows %q (%v)", qr.Data["qr"], code, err)
	}
	if _, err := g.WhatsApp.Scan(device.ID(id), "15551234567", "Ann"); err != nil {
		t.Fatal(err)
	}
	expectState(t, p, "authenticated", id)
	auth := expectPayload(t, p, "authenticated", "clientName,deviceId,phoneNumber,timestamp", id)
	if auth.Data["phoneNumber"] != "15551234567" || auth.Data["clientName"] != "Ann" {
		t.Fatalf("authenticated %v", auth.Data)
	}
	expectState(t, p, "ready", id)
	if ready := expectPayload(t, p, "ready", "deviceId,phoneNumber,timestamp", id); ready.Data["phoneNumber"] != "15551234567" {
		t.Fatalf("ready %v", ready.Data)
	}
	sent := time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := g.WhatsApp.Deliver(device.ID(id), message.Message{
		ID: "3EB0ABC", Chat: "15559876543@s.whatsapp.net", Type: message.TypeText, Text: "hello",
		Sender:   message.Sender{JID: "15559876543@s.whatsapp.net", PhoneNumber: "15559876543", LID: "1234567@lid"},
		PushName: "Bob", Timestamp: sent,
	}); err != nil {
		t.Fatal(err)
	}
	msg := expectPayload(t, p, "message", "deviceId,message,timestamp", id)
	m, _ := msg.Data["message"].(map[string]any)
	sender, _ := m["sender"].(map[string]any)
	if m["id"] != "3EB0ABC" || m["text"] != "hello" || m["type"] != "text" || m["pushName"] != "Bob" || m["fromMe"] != false ||
		sender["phoneNumber"] != "15559876543" || sender["lid"] != "1234567@lid" || m["timestamp"] != float64(sent.UnixMilli()) {
		t.Fatalf("message %v", m)
	}
	if err := g.WhatsApp.Drop(device.ID(id), device.ReasonStreamReplaced, false); err != nil {
		t.Fatal(err)
	}
	expectState(t, p, "disconnected", id)
	if d := expectPayload(t, p, "disconnected", "deviceId,reason,timestamp", id); d.Data["reason"] != "stream_replaced" {
		t.Fatalf("disconnected %v", d.Data)
	}
}

func TestListenersSeeTheWholeFlow(t *testing.T) {
	checkClients(t)
	t.Parallel()
	for _, tc := range []struct{ lang, transports string }{
		{"js", "websocket"}, {"js", "default"}, {"js", "polling"},
		{"python", "websocket"}, {"python", "default"}, {"python", "polling"},
	} {
		t.Run(tc.lang+"/"+tc.transports, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, bootstrap.Config{APIKey: apiKey})
			id := g.createDevice("Flow")
			p := listener(t, tc.lang, g.base, "/device/"+id, apiKey, "TRANSPORTS="+tc.transports)
			if c := p.expect("connect"); tc.transports == "polling" && c.Transport != "polling" {
				t.Fatalf("transport %s", c.Transport)
			}
			expectState(t, p, "created", id) // a new listener learns the current state
			driveFlow(t, g, p, id)
		})
	}
}
