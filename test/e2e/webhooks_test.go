package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wagate/wagate/test/wasim"
)

// receiver is a webhook receiver on 127.0.0.1 that checks the signature of every
// delivery, as the README tells receivers to, and keeps what it got.
type receiver struct {
	t      *testing.T
	addr   string
	delay  time.Duration // how long it takes to answer each delivery
	mu     sync.Mutex
	secret string
	got    []received
	forged int // deliveries whose signature did not verify
	srv    *http.Server
}

type received struct {
	delivery, event, device, text string
	at                            time.Time
}

// newReceiver reserves an address for a receiver, which is down until up.
func newReceiver(t *testing.T) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, addr: ln.Addr().String()}
	ln.Close()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func (r *receiver) up() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.srv = &http.Server{Handler: r}
	srv := r.srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	mac := hmac.New(sha256.New, []byte(r.secret))
	r.mu.Unlock()
	ts := req.Header.Get("X-Wagate-Timestamp")
	mac.Write([]byte(ts + "." + string(body)))
	sent, err := strconv.ParseInt(ts, 10, 64)
	if !hmac.Equal([]byte(req.Header.Get("X-Wagate-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) ||
		err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		r.mu.Lock()
		r.forged++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b struct {
		Event, EventID string
		Data           struct {
			DeviceID string
			Message  struct{ Text string }
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || b.EventID != req.Header.Get("X-Wagate-Delivery") || b.Event != req.Header.Get("X-Wagate-Event") {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	time.Sleep(r.delay)
	r.mu.Lock()
	r.got = append(r.got, received{b.EventID, b.Event, b.Data.DeviceID, b.Data.Message.Text, time.Now()})
	r.mu.Unlock()
}

// firsts returns what it received, without repeats (by X-Wagate-Delivery), in order.
func (r *receiver) firsts() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []received
	for _, g := range r.got {
		if !seen[g.delivery] {
			seen[g.delivery] = true
			out = append(out, g)
		}
	}
	return out
}

type webhookJSON struct {
	ID, URL, Secret, Cursor string
	Events, Devices         []string
}

// TestWebhooksLoseNothing: a receiver that is down for the first 20 s of a burst of 200
// messages, and a gateway killed with kill -9 in the middle of the retries, lose
// nothing: once both are back, every message arrives, signed, in order, and repeats can
// be dropped by X-Wagate-Delivery.
func TestWebhooksLoseNothing(t *testing.T) {
	t.Parallel()
	sim := wasim.Start(t)
	cfg := simConfig(t, sim, "")
	cfg.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	g := startProcess(t, gatewayBinary(t), cfg)
	const phone, contact = "15550007001", "15550007002"
	id := linkDevice(t, g.api, sim, phone)
	rcv := newReceiver(t)
	var hook webhookJSON
	g.api.call("POST", "/api/v1/webhooks", `{"url":"`+rcv.url()+`","events":["message"]}`, http.StatusCreated, &hook)
	rcv.setSecret(hook.Secret)

	const burst = 200
	began := time.Now()
	for i := range burst {
		if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: contact, To: phone, Text: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Retries are under way when the gateway dies.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var page struct {
			Deliveries []struct{ Status, NextRetryAt string }
		}
		g.api.call("GET", "/api/v1/webhooks/"+hook.ID+"/deliveries?limit=5", "", http.StatusOK, &page)
		if len(page.Deliveries) >= 3 && page.Deliveries[0].Status == "failed" && page.Deliveries[0].NextRetryAt != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retries recorded: %+v", page)
		}
	}
	g.kill()
	g.start()
	time.Sleep(time.Until(began.Add(20 * time.Second)))
	rcv.up()

	var got []received
	for deadline := time.Now().Add(90 * time.Second); len(got) < burst; time.Sleep(200 * time.Millisecond) {
		got = rcv.firsts()
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d of the %d messages within 90 s of coming back", len(got), burst)
		}
	}
	for i, r := range got {
		if r.event != "message" || r.device != id || r.text != "m"+strconv.Itoa(i) {
			t.Fatalf("delivery %d: %+v, want message m%d of %s (lost or out of order)", i, r, i, id)
		}
		if i > 0 && mustInt(t, r.delivery) <= mustInt(t, got[i-1].delivery) {
			t.Fatalf("delivery ids out of order: %s after %s", r.delivery, got[i-1].delivery)
		}
	}
	rcv.mu.Lock()
	forged, repeats := rcv.forged, len(rcv.got)-burst
	rcv.mu.Unlock()
	if forged != 0 {
		t.Fatalf("%d deliveries did not verify", forged)
	}
	t.Logf("webhook: %d messages, receiver down 20 s and the gateway killed during the retries: all arrived, in order, %d repeats (dropped by X-Wagate-Delivery), the last %v after the receiver came back",
		burst, repeats, got[len(got)-1].at.Sub(began.Add(20*time.Second)).Round(time.Millisecond))
	var after webhookJSON
	g.api.call("GET", "/api/v1/webhooks/"+hook.ID, "", http.StatusOK, &after)
	if mustInt(t, after.Cursor) < mustInt(t, got[len(got)-1].delivery) {
		t.Fatalf("the cursor is at %s, before the last message's event %s", after.Cursor, got[len(got)-1].delivery)
	}
}

func mustInt(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWebhooks manages webhooks through the API: the SSRF guard at creation, a slow
// receiver that delays no other, a test ping.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	sim := wasim.Start(t)
	open := startLive(t, simConfig(t, sim, "")) // no WEBHOOK_ALLOW: nothing internal may be posted to
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/"} {
		var e struct {
			Error struct{ Code, Message string }
		}
		open.api.call("POST", "/api/v1/webhooks", `{"url":"`+u+`"}`, http.StatusBadRequest, &e)
		if e.Error.Code != "invalid_request" || e.Error.Message != "url points to an address the gateway does not post to (loopback, private or internal); WEBHOOK_ALLOW lists exceptions" {
			t.Fatalf("%s: %+v", u, e)
		}
	}
	var list struct{ Webhooks []webhookJSON }
	open.api.call("GET", "/api/v1/webhooks", "", http.StatusOK, &list)
	if len(list.Webhooks) != 0 {
		t.Fatalf("refused webhooks were stored: %+v", list)
	}

	cfg := simConfig(t, sim, "")
	cfg.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	gw := startLive(t, cfg)
	fast, slow := newReceiver(t), newReceiver(t)
	slow.delay = 5 * time.Second
	for _, r := range []*receiver{fast, slow} {
		var h webhookJSON
		gw.api.call("POST", "/api/v1/webhooks", `{"url":"`+r.url()+`","events":["message"]}`, http.StatusCreated, &h)
		r.setSecret(h.Secret)
		r.up()
	}
	const phone = "15550007101"
	linkDevice(t, gw.api, sim, phone)
	sent := time.Now()
	for i := range 5 {
		if _, err := sim.SendText(t.Context(), wasim.TextMessage{From: "15550007102", To: phone, Text: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(4 * time.Second); len(fast.firsts()) < 5; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fast receiver got %d of 5 messages in 4 s, while the slow one takes 5 s each", len(fast.firsts()))
		}
	}
	t.Logf("the fast receiver had all 5 messages %v after they were sent; the slow one %d", time.Since(sent).Round(time.Millisecond), len(slow.firsts()))

	// A signed test ping; a deleted webhook is gone.
	var ping struct {
		Delivered    bool
		ResponseCode int
	}
	var hooks struct{ Webhooks []webhookJSON }
	gw.api.call("GET", "/api/v1/webhooks", "", http.StatusOK, &hooks)
	gw.api.call("POST", "/api/v1/webhooks/"+hooks.Webhooks[0].ID+"/test", "", http.StatusOK, &ping)
	if !ping.Delivered || ping.ResponseCode != http.StatusOK {
		t.Fatalf("ping: %+v", ping)
	}
	gw.api.call("DELETE", "/api/v1/webhooks/"+hooks.Webhooks[1].ID, "", http.StatusNoContent, nil)
	gw.api.call("GET", "/api/v1/webhooks/"+hooks.Webhooks[1].ID, "", http.StatusNotFound, nil)
}
