package e2e

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/test/wasim"
)

// TestWhatsAppMessaging: through REST and a socket.io-client listener, a message sent
// is reported sent, delivered and read; the messaging calls reach the contact; the
// contact's edits and a message the device cannot decrypt reach the listener.
func TestWhatsAppMessaging(t *testing.T) {
	checkClients(t)
	t.Parallel()
	sim := wasim.Start(t)
	cfg := simConfig(t, sim, "")
	cfg.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	gw := startLive(t, cfg)
	hook := newReceiver(t)
	var h webhookJSON
	gw.api.call("POST", "/api/v1/webhooks", `{"url":"`+hook.url()+`","events":["receipt"]}`, http.StatusCreated, &h)
	hook.setSecret(h.Secret)
	hook.up()
	const account, contact = "15550005555", "15550005999"
	id := linkDevice(t, gw.api, sim, account)
	dev := "/api/v1/devices/" + id
	p := listener(t, "js", gw.base(), "/device/"+id, apiKey, "TRANSPORTS=websocket")
	p.expect("connect")
	expectState(t, p, "ready", id)

	var sent struct{ ID, To string }
	gw.api.call("POST", dev+"/messages", `{"to":"+`+contact+`","text":"your order shipped"}`, http.StatusCreated, &sent)
	if _, err := sim.Receipt(wasim.ReceiptRequest{From: contact, To: account, IDs: []string{sent.ID}, Type: "read"}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"sent", "delivered", "read"} {
		ev, before := await(t, p, "receipt", nil)
		checkPayload(t, ev, "chat,deviceId,from,fromMe,messageIds,status,timestamp", id)
		from, _ := ev.Data["from"].(map[string]any)
		ids, _ := ev.Data["messageIds"].([]any)
		if ev.Data["status"] != st || len(ids) != 1 || ids[0] != sent.ID || len(before) != 0 {
			t.Fatalf("receipt %v after %s, want %s of %s", ev.Data, names(before), st, sent.ID)
		}
		if wantPhone := map[bool]string{true: account, false: contact}[st == "sent"]; from["phoneNumber"] != wantPhone || !strings.HasSuffix(from["lid"].(string), "@lid") {
			t.Fatalf("%s receipt from %v, want %s with its LID", st, from, wantPhone)
		}
	}

	in, err := sim.SendText(t.Context(), wasim.TextMessage{From: contact, To: account, Text: "thanks!"})
	if err != nil {
		t.Fatal(err)
	}
	await(t, p, "message", nil)
	var read struct{ MessageIDs []string }
	gw.api.call("POST", dev+"/chats/"+contact+"/read", "", http.StatusOK, &read)
	if !slices.Equal(read.MessageIDs, []string{in.ID}) {
		t.Fatalf("marked read %v, want %s", read.MessageIDs, in.ID)
	}
	gw.api.call("POST", dev+"/chats/"+contact+"/presence", `{"state":"composing"}`, http.StatusNoContent, nil)
	var edit, revoke, react struct{ ID string }
	gw.api.call("PATCH", dev+"/messages/"+sent.ID, `{"chat":"`+contact+`","text":"your order shipped today"}`, http.StatusOK, &edit)
	gw.api.call("POST", dev+"/messages", `{"to":"`+contact+`","reaction":{"messageId":"`+in.ID+`","emoji":"❤"}}`, http.StatusCreated, &react)
	gw.api.call("DELETE", dev+"/messages/"+sent.ID+"?chat="+contact, "", http.StatusOK, &revoke)
	msgs, err := sim.Sent(account)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("the contact got %+v, %v", msgs, err)
	}
	if e, r, v := msgs[1], msgs[2], msgs[3]; e.ID != edit.ID || e.Type != "edit" || e.TargetID != sent.ID || e.Text != "your order shipped today" ||
		r.ID != react.ID || r.Type != "reaction" || r.TargetID != in.ID || r.Emoji != "❤" ||
		v.ID != revoke.ID || v.Type != "revoke" || v.TargetID != sent.ID {
		t.Fatalf("edit, reaction, revoke as the contact got them: %+v", msgs[1:])
	}
	activity, err := sim.Activity(account)
	if err != nil || len(activity) != 2 || activity[0].Type != "read" || !slices.Equal(activity[0].IDs, []string{in.ID}) || activity[1].State != "composing" {
		t.Fatalf("the contact saw %+v, %v", activity, err)
	}

	var check struct {
		Contacts []struct {
			Phone      string
			OnWhatsApp bool
			JID, LID   *string
		}
	}
	gw.api.call("POST", dev+"/contacts/check", `{"phones":["+`+contact+`"]}`, http.StatusOK, &check)
	if c := check.Contacts; len(c) != 1 || !c[0].OnWhatsApp || c[0].JID == nil || *c[0].JID != contact+"@s.whatsapp.net" || c[0].LID == nil {
		t.Fatalf("check %+v", check)
	}
	var pic struct{ URL string }
	gw.api.call("GET", dev+"/contacts/"+contact+"/picture", "", http.StatusOK, &pic)
	if !strings.HasPrefix(pic.URL, "https://"+wasim.PictureHost+"/") {
		t.Fatalf("picture %+v", pic)
	}

	// The contact edits its message, then sends one the device cannot decrypt at first.
	if _, err := sim.SendMessage(t.Context(), wasim.IncomingMessage{From: contact, To: account, Type: "edit", TargetID: in.ID, Text: "thanks!!"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := await(t, p, "message", nil)
	if m := ev.Data["message"].(map[string]any); m["type"] != "edit" || m["targetId"] != in.ID || m["text"] != "thanks!!" {
		t.Fatalf("edit %v", m)
	}
	again, err := sim.SendMessage(t.Context(), wasim.IncomingMessage{From: contact, To: account, Text: "see you", Undecryptable: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"undecryptable", "text"} {
		ev, _ := await(t, p, "message", nil)
		if m := ev.Data["message"].(map[string]any); m["type"] != want || m["id"] != again.ID {
			t.Fatalf("message %v, want %s %s", m, want, again.ID)
		}
	}

	// The REST feed holds the receipts too.
	var receipts []string
	for _, e := range readLog(t, gw.api, dev+"/events") {
		if e.Event == "receipt" {
			receipts = append(receipts, e.ID)
		}
	}
	if len(receipts) < 3 {
		t.Fatalf("the feed holds %d receipts, want at least 3", len(receipts))
	}
	// And so does a webhook that asked for them, signed: the first three, in order.
	for deadline := time.Now().Add(10 * time.Second); len(hook.firsts()) < len(receipts); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got %d of %d receipts", len(hook.firsts()), len(receipts))
		}
	}
	for i, got := range hook.firsts()[:3] {
		if got.event != "receipt" || got.delivery != receipts[i] || got.device != id {
			t.Fatalf("webhook delivery %d: %+v, want receipt %s", i, got, receipts[i])
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.forged != 0 {
		t.Fatalf("%d deliveries with a bad signature", hook.forged)
	}
}
