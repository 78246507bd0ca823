package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/test/logbuf"
	"github.com/wagate/wagate/test/wasim"
)

// These tests run the gateway as the binary does, with whatsmeow sessions talking to
// the wasim simulator, and watch it over REST and with the real socket.io-client.

// live is a gateway built like the binary's, which can be stopped and started again on
// the same address and database.
type live struct {
	t       *testing.T
	cfg     bootstrap.Config
	addr    string
	api     client
	stopped func()
	logs    logbuf.Buffer // shown when the test fails
}

func simConfig(t *testing.T, sim *wasim.Server, databaseURL string) bootstrap.Config {
	info := sim.Info()
	return bootstrap.Config{
		APIKey: apiKey, DataDir: t.TempDir(), DatabaseURL: databaseURL,
		WhatsAppServerURL: info.ServerURL, WhatsAppServerRootKey: info.RootKey,
		MediaMaxBytes:   16 << 20,
		MediaFetchAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
}

func startLive(t *testing.T, cfg bootstrap.Config) *live {
	t.Helper()
	l := &live{t: t, cfg: cfg, addr: "127.0.0.1:0"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway logs:\n%s", l.logs.String())
		}
	})
	l.start()
	return l
}

func (l *live) start() {
	l.t.Helper()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(&l.logs, leaks), &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw, cleanup, err := bootstrap.Build(context.Background(), l.cfg, log)
	if err != nil {
		l.t.Fatal(err)
	}
	base, stop := serveOn(l.t, gw, l.addr)
	l.addr = strings.TrimPrefix(base, "http://")
	l.api = client{l.t, base}
	l.stopped = func() { stop(); cleanup() }
	l.t.Cleanup(l.stop)
}

// stop shuts the gateway down as SIGTERM would; the devices keep their state.
func (l *live) stop() {
	if l.stopped != nil {
		l.stopped()
		l.stopped = nil
	}
}

func (l *live) base() string { return "http://" + l.addr }

// await reads the listener's events until one named name satisfies match (nil: any),
// and returns it with the events read before it.
func await(t *testing.T, p *process, name string, match func(map[string]any) bool) (clientEvent, []clientEvent) {
	t.Helper()
	var skipped []clientEvent
	for {
		ev := p.next(30 * time.Second)
		if ev.Event == name && (match == nil || match(ev.Data)) {
			return ev, skipped
		}
		skipped = append(skipped, ev)
	}
}

func status(s string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["status"] == s }
}

func names(events []clientEvent) string {
	var out []string
	for _, e := range events {
		n := e.Event
		if e.Event == "state" {
			n += ":" + fmt.Sprint(e.Data["status"])
		}
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

// TestWhatsAppFlow walks the life of a device on WhatsApp (the simulator), on SQLite and
// on PostgreSQL: pairing by QR code, a message each way, a restart of the gateway, the
// phone unlinking it, and pairing anew.
func TestWhatsAppFlow(t *testing.T) {
	checkClients(t)
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			sim := wasim.Start(t)
			dsn := ""
			if db == "postgres" {
				dsn = dbtest.PostgresURL(t)
			}
			gw := startLive(t, simConfig(t, sim, dsn))
			var d deviceJSON
			gw.api.call("POST", "/api/v1/devices", `{"name":"Alice's phone"}`, http.StatusCreated, &d)
			p := listener(t, "js", gw.base(), "/device/"+d.ID, apiKey, "RECONNECT=1", "TRANSPORTS=websocket")
			p.expect("connect")
			expectState(t, p, "created", d.ID)

			// Pairing by QR code.
			gw.api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
			expectState(t, p, "connecting", d.ID)
			expectState(t, p, "pairing", d.ID)
			qr := expectPayload(t, p, "qr", "deviceId,qr,timestamp", d.ID)
			var rest struct{ QR string }
			gw.api.call("GET", "/api/v1/devices/"+d.ID+"/qr", "", http.StatusOK, &rest)
			if rest.QR != qr.Data["qr"] {
				t.Fatalf("REST QR %q, event QR %q", rest.QR, qr.Data["qr"])
			}
			if _, err := sim.Scan(t.Context(), wasim.ScanRequest{QR: rest.QR, PhoneNumber: "+15550001111", PushName: "Alice", BusinessName: "Alice's Bakery"}); err != nil {
				t.Fatal(err)
			}
			auth, _ := await(t, p, "authenticated", nil)
			checkPayload(t, auth, "clientName,deviceId,phoneNumber,timestamp", d.ID)
			if auth.Data["phoneNumber"] != "15550001111" || auth.Data["clientName"] != "Alice's Bakery" {
				t.Fatalf("authenticated %v", auth.Data)
			}
			ready, before := await(t, p, "ready", nil)
			if ready.Data["phoneNumber"] != "15550001111" || !strings.Contains(names(before), "state:ready") {
				t.Fatalf("ready %v after %s", ready.Data, names(before))
			}
			gw.api.call("GET", "/api/v1/devices/"+d.ID, "", http.StatusOK, &d)
			if d.Status != "ready" || d.PhoneNumber == nil || *d.PhoneNumber != "15550001111" {
				t.Fatalf("device %+v", d)
			}

			// A contact writes; the device answers, quoting it.
			in, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15550002222", To: "15550001111", Text: "hello gateway", PushName: "Bob"})
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := await(t, p, "message", nil)
			m := msg.Data["message"].(map[string]any)
			sender := m["sender"].(map[string]any)
			if m["id"] != in.ID || m["text"] != "hello gateway" || m["type"] != "text" || m["pushName"] != "Bob" ||
				sender["phoneNumber"] != "15550002222" || m["fromMe"] != false || m["isGroup"] != false {
				t.Fatalf("message %v", m)
			}
			var receipt struct{ ID, To string }
			gw.api.call("POST", "/api/v1/devices/"+d.ID+"/messages",
				`{"to":"+15550002222","text":"hi Bob","replyTo":"`+in.ID+`"}`, http.StatusCreated, &receipt)
			sent, err := sim.Sent("15550001111")
			if err != nil || len(sent) == 0 {
				t.Fatalf("sent %v, %v", sent, err)
			}
			last := sent[len(sent)-1]
			if last.ID != receipt.ID || last.Text != "hi Bob" || last.To != "15550002222" || last.QuotedID != in.ID {
				t.Fatalf("the contact received %+v, receipt %+v", last, receipt)
			}

			// The gateway restarts: the device is ready again without a new QR code.
			gw.stop()
			if ev, _ := await(t, p, "disconnect", nil); ev.Reason != "transport close" {
				t.Fatalf("disconnect %q", ev.Reason)
			}
			gw.start()
			p.expect("connect")
			// The session may be restored before the listener is back: then the state it is
			// sent on connecting says ready.
			_, before = await(t, p, "state", status("ready"))
			if strings.Contains(names(before), "qr") {
				t.Fatalf("a QR code after the restart: %s", names(before))
			}
			gw.api.call("GET", "/api/v1/devices/"+d.ID, "", http.StatusOK, &d)
			if d.Status != "ready" {
				t.Fatalf("after restart: %s", d.Status)
			}

			// The phone unlinks the device; connecting again pairs anew.
			if _, err := sim.Unlink("15550001111"); err != nil {
				t.Fatal(err)
			}
			gone, before := await(t, p, "disconnected", nil)
			if gone.Data["reason"] != "logged_out" || !strings.Contains(names(before), "state:logged_out") {
				t.Fatalf("disconnected %v after %s", gone.Data, names(before))
			}
			gw.api.call("GET", "/api/v1/devices/"+d.ID, "", http.StatusOK, &d)
			if d.Status != "logged_out" || d.PhoneNumber != nil {
				t.Fatalf("after unlink %+v", d)
			}
			gw.api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
			if again, _ := await(t, p, "qr", nil); again.Data["qr"] == qr.Data["qr"] {
				t.Fatal("the old QR code again")
			}
			if n := sim.Stats().MaxConcurrentLoginsPerDevice; n != 1 {
				t.Fatalf("a device had %d owners at once", n)
			}
		})
	}
}

// linkDevice creates a device and pairs it with the simulator by QR code, returning its id.
func linkDevice(t testing.TB, api client, sim *wasim.Server, phone string) string {
	t.Helper()
	var d deviceJSON
	api.call("POST", "/api/v1/devices", `{"name":"`+phone+`"}`, http.StatusCreated, &d)
	api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
	var qr struct{ QR string }
	for deadline := time.Now().Add(30 * time.Second); qr.QR == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			api.call("GET", "/api/v1/devices/"+d.ID, "", http.StatusOK, &d)
			t.Fatalf("no QR code for %s (status %s)", phone, d.Status)
		}
		api.callStatus("GET", "/api/v1/devices/"+d.ID+"/qr", &qr)
	}
	if _, err := sim.Scan(t.Context(), wasim.ScanRequest{QR: qr.QR, PhoneNumber: phone}); err != nil {
		t.Fatal(err)
	}
	api.waitStatusWithin(d.ID, "ready", 30*time.Second)
	return d.ID
}

func TestWhatsAppPairingCode(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	var d deviceJSON
	gw.api.call("POST", "/api/v1/devices", `{"name":"By code"}`, http.StatusCreated, &d)
	p := listener(t, "js", gw.base(), "/device/"+d.ID, apiKey, "TRANSPORTS=websocket")
	p.expect("connect")
	gw.api.call("POST", "/api/v1/devices/"+d.ID+"/pair-code", `{"phoneNumber":"+15550003333"}`, http.StatusConflict, nil)
	gw.api.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, nil)
	await(t, p, "qr", nil)
	var code struct{ Code string }
	gw.api.call("POST", "/api/v1/devices/"+d.ID+"/pair-code", `{"phoneNumber":"+15550003333"}`, http.StatusOK, &code)
	if _, err := sim.PairCode(t.Context(), wasim.PairCodeRequest{PhoneNumber: "15550003333", Code: code.Code, PushName: "Carol"}); err != nil {
		t.Fatalf("pair code %q: %v", code.Code, err)
	}
	if auth, _ := await(t, p, "authenticated", nil); auth.Data["phoneNumber"] != "15550003333" {
		t.Fatalf("authenticated %v", auth.Data)
	}
	await(t, p, "ready", nil)
}

// TestWhatsAppKickBanDrop checks the events and states of a dropped connection (it
// recovers), another client taking over (it stops), and a temporary ban (it fails).
func TestWhatsAppKickBanDrop(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	id := linkDevice(t, gw.api, sim, "15550004444")
	p := listener(t, "js", gw.base(), "/device/"+id, apiKey, "TRANSPORTS=websocket")
	p.expect("connect")
	expectState(t, p, "ready", id)

	if _, err := sim.Drop("15550004444"); err != nil {
		t.Fatal(err)
	}
	if d, before := await(t, p, "disconnected", nil); d.Data["reason"] != "connection_lost" || names(before) != "state:connecting" {
		t.Fatalf("drop: %v after %s", d.Data, names(before))
	}
	if _, before := await(t, p, "ready", nil); names(before) != "state:ready" {
		t.Fatalf("reconnect went %s", names(before))
	}

	if _, err := sim.Kick("15550004444"); err != nil {
		t.Fatal(err)
	}
	if d, before := await(t, p, "disconnected", nil); d.Data["reason"] != "stream_replaced" || !strings.Contains(names(before), "state:disconnected") {
		t.Fatalf("kick: %v after %s", d.Data, names(before))
	}
	var d deviceJSON
	gw.api.call("GET", "/api/v1/devices/"+id, "", http.StatusOK, &d)
	if d.Status != "disconnected" || d.LastDisconnectReason == nil || *d.LastDisconnectReason != "stream_replaced" {
		t.Fatalf("after kick %+v", d)
	}
	p.quiet(1500 * time.Millisecond) // it does not reconnect by itself

	gw.api.call("POST", "/api/v1/devices/"+id+"/connect", "", http.StatusAccepted, nil)
	if _, before := await(t, p, "ready", nil); strings.Contains(names(before), "qr") {
		t.Fatalf("reconnecting after a kick asked for a QR code: %s", names(before))
	}

	if _, err := sim.Ban("15550004444", wasim.BanOptions{Expire: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if d, before := await(t, p, "disconnected", nil); d.Data["reason"] != "temporary_ban" || !strings.Contains(names(before), "state:failed") {
		t.Fatalf("ban: %v after %s", d.Data, names(before))
	}
	var banned struct {
		Status       string     `json:"status"`
		BanExpiresAt *time.Time `json:"banExpiresAt"`
	}
	gw.api.call("GET", "/api/v1/devices/"+id, "", http.StatusOK, &banned)
	if banned.Status != "failed" || banned.BanExpiresAt == nil || banned.BanExpiresAt.Sub(time.Now()) < 50*time.Minute {
		t.Fatalf("after ban %+v", banned)
	}
	m := scrape(t, gw.base(), "X-API-Key "+apiKey)
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"wagate_whatsapp_stream_replaced_total", nil}, {"wagate_whatsapp_bans_total", nil},
		{"wagate_whatsapp_disconnects_total", []string{"reason", "stream_replaced"}},
		{"wagate_whatsapp_disconnects_total", []string{"reason", "temporary_ban"}},
		{"wagate_whatsapp_disconnects_total", []string{"reason", "connection_lost"}},
		{"wagate_devices", []string{"status", "failed"}},
	} {
		if n := m.value(t, c.name, c.labels...); n != 1 {
			t.Errorf("%s%v = %v, want 1", c.name, c.labels, n)
		}
	}
}

// TestWhatsAppMedia sends a file fetched from a URL and receives one, downloading it
// through the API.
func TestWhatsAppMedia(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	id := linkDevice(t, gw.api, sim, "15550005555")
	p := listener(t, "js", gw.base(), "/device/"+id, apiKey, "TRANSPORTS=websocket")
	p.expect("connect")

	picture := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 50_000)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(picture)
	}))
	defer files.Close()
	var receipt struct{ ID string }
	gw.api.call("POST", "/api/v1/devices/"+id+"/messages",
		`{"to":"15550006666","text":"a picture","media":{"type":"image","url":"`+files.URL+`/p.png"}}`, http.StatusCreated, &receipt)
	sent, _ := sim.Sent("15550005555")
	last := sent[len(sent)-1]
	sum := sha256.Sum256(picture)
	if last.ID != receipt.ID || last.Type != "image" || last.Caption != "a picture" || last.SHA256 != hex.EncodeToString(sum[:]) || last.MediaError != "" {
		t.Fatalf("the contact received %+v", last)
	}

	doc := []byte("%PDF-1.4 the contract")
	in, err := sim.SendMessage(t.Context(), wasim.IncomingMessage{From: "15550006666", To: "15550005555", Type: "document",
		Data: doc, Mimetype: "application/pdf", FileName: "contract.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := await(t, p, "message", nil)
	m := msg.Data["message"].(map[string]any)
	media, _ := m["media"].(map[string]any)
	if m["id"] != in.ID || m["type"] != "document" || media["mimetype"] != "application/pdf" || media["fileName"] != "contract.pdf" || media["size"] != float64(len(doc)) {
		t.Fatalf("message %v", m)
	}
	res, err := http.NewRequest("GET", gw.base()+"/api/v1/devices/"+id+"/messages/"+in.ID+"/media", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Header.Set("X-API-Key", apiKey)
	got, err := http.DefaultClient.Do(res)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(got.Body)
	if got.StatusCode != 200 || !bytes.Equal(body.Bytes(), doc) || got.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("media download: %d %q", got.StatusCode, body.String())
	}
}

// TestWhatsAppRestoresManyDevices links 100 devices, restarts the gateway, and checks
// that every one is ready again, each with one connection at a time.
func TestWhatsAppRestoresManyDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("links 100 devices")
	}
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, dbtest.PostgresURL(t)))
	const n = 100
	ids := make([]string, n)
	for i := range n {
		ids[i] = linkDevice(t, gw.api, sim, fmt.Sprintf("1555100%04d", i))
	}
	gw.stop()
	restarted := time.Now()
	gw.start()
	// Ready again since the restart: the status stored before it says ready too.
	took := waitReconnected(t, gw.api, ids, restarted, 60*time.Second)
	t.Logf("%d sessions restored in %v", n, took.Round(time.Millisecond))
	if st := sim.Stats(); st.MaxConcurrentLoginsPerDevice != 1 || st.LoggedIn != n {
		t.Fatalf("simulator stats %+v", st)
	}
}
