package wasim_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate/wagate/test/wasim"
)

// ctl calls the control API of srv over its real loopback listener.
func ctl(t *testing.T, srv *wasim.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	base := strings.Replace(strings.TrimSuffix(srv.URL(), "/ws/chat"), "ws://", "http://", 1)
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestControlAPI(t *testing.T) {
	srv := startServer(t)

	status, info := ctl(t, srv, "GET", "/control/info", "")
	pub := srv.RootPublicKey()
	if status != 200 || info["serverUrl"] != srv.URL() || info["rootKey"] != hex.EncodeToString(pub[:]) {
		t.Fatalf("info = %d %v", status, info)
	}
	if u, err := url.Parse(info["serverUrl"].(string)); err != nil || u.Scheme != "ws" || u.Path != "/ws/chat" {
		t.Fatalf("serverUrl %v is not ws://host:port/ws/chat", info["serverUrl"])
	}

	const account, contact = "15550020001", "15550020999"
	tc := newClient(t, srv, "")
	qr := tc.connectForQR(t)
	status, out := ctl(t, srv, "POST", "/control/scan", mustJSON(map[string]string{"qr": qr, "phoneNumber": "+" + account, "pushName": "Dave"}))
	if status != 200 || out["phoneNumber"] != account || out["jid"] != account+":1@s.whatsapp.net" {
		t.Fatalf("scan = %d %v", status, out)
	}
	waitFor[*events.Connected](t, tc.recorder)

	status, out = ctl(t, srv, "POST", "/control/messages", mustJSON(map[string]string{"from": contact, "to": account, "text": "via HTTP", "pushName": "Erin"}))
	if status != 200 || out["id"] == "" || out["devices"] != float64(1) {
		t.Fatalf("send = %d %v", status, out)
	}
	msg := waitFor[*events.Message](t, tc.recorder)
	if msg.Message.GetConversation() != "via HTTP" || msg.Info.ID != out["id"] || msg.Info.PushName != "Erin" {
		t.Fatalf("message = %+v", msg.Info)
	}

	status, out = ctl(t, srv, "GET", "/control/messages?from="+url.QueryEscape("+"+account), "")
	if msgs, _ := out["messages"].([]any); status != 200 || msgs == nil || len(msgs) != 0 {
		t.Fatalf("sent before sending = %d %v", status, out)
	}

	status, out = ctl(t, srv, "GET", "/control/stats", "")
	if status != 200 || out["pairedDevices"] != float64(1) || out["loggedIn"] != float64(1) || out["maxConcurrentLoginsPerDevice"] != float64(1) {
		t.Fatalf("stats = %d %v", status, out)
	}

	// Errors: right status, JSON body with a code, never a panic.
	errorCases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/control/scan", "{", 400, "invalid_json"},
		{"POST", "/control/scan", `{"qr":"x","phoneNumber":"15550020001","extra":1}`, 400, "invalid_json"},
		{"POST", "/control/scan", `{"qr":"garbage","phoneNumber":"15550020001"}`, 400, "invalid_qr"},
		{"POST", "/control/scan", mustJSON(map[string]string{"qr": qr, "phoneNumber": "12"}), 400, "invalid_phone"},
		{"POST", "/control/scan", mustJSON(map[string]string{"qr": qr, "phoneNumber": account}), 404, "unknown_qr"},
		{"POST", "/control/pair-code", `{"phoneNumber":"15550020002","code":"ABCD-EFGH"}`, 404, "no_pending_code"},
		{"POST", "/control/pair-code", `{"phoneNumber":"15550020002","code":"ABC"}`, 400, "invalid_code"},
		{"POST", "/control/messages", `{"from":"15550020999","to":"15550020777","text":"x"}`, 404, "unknown_account"},
		{"POST", "/control/messages", `{"from":"15550020999","to":"15550020001"}`, 400, "invalid_message"},
		{"POST", "/control/messages", `[]`, 400, "invalid_json"},
		{"GET", "/control/messages", "", 400, "invalid_phone"},
		{"GET", "/control/messages?from=15550020777", "", 404, "unknown_account"},
		{"POST", "/control/accounts/15550020777/kick", "", 404, "unknown_account"},
		{"POST", "/control/accounts/abc/kick", "", 400, "invalid_phone"},
		{"POST", "/control/accounts/15550020001/explode", "", 404, "not_found"},
		{"POST", "/control/accounts/15550020001/ban", `{"expireSeconds":-1}`, 400, "invalid_ban"},
		{"GET", "/control/nope", "", 404, "not_found"},
	}
	for _, c := range errorCases {
		status, out := ctl(t, srv, c.method, c.path, c.body)
		if status != c.status || errCode(out) != c.code {
			t.Errorf("%s %s %s = %d %v, want %d %s", c.method, c.path, c.body, status, out, c.status, c.code)
		}
		if msg, _ := out["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s %s: error without message: %v", c.method, c.path, out)
		}
	}

	// Account actions over HTTP.
	status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/drop", "")
	if status != 200 || out["affected"] != float64(1) {
		t.Fatalf("drop = %d %v", status, out)
	}
	waitFor[*events.Disconnected](t, tc.recorder)
	waitFor[*events.Connected](t, tc.recorder)
	status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/kick", "")
	if status != 200 || out["affected"] != float64(1) {
		t.Fatalf("kick = %d %v", status, out)
	}
	waitFor[*events.StreamReplaced](t, tc.recorder)
	tc.closedOnBothEnds(t, srv, "the kicked connection is closed")
	status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/kick", "")
	if status != 409 || errCode(out) != "not_connected" {
		t.Fatalf("kick while offline = %d %v", status, out)
	}
	status, out = ctl(t, srv, "POST", "/control/accounts/+"+account+"/ban", `{"code":101,"expireSeconds":60}`)
	if status != 200 || out["affected"] != float64(0) {
		t.Fatalf("ban = %d %v", status, out)
	}
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	if ban := waitFor[*events.TemporaryBan](t, tc.recorder); ban.Code != events.TempBanSentToTooManyPeople {
		t.Fatalf("ban = %+v", ban)
	}
	tc.closedOnBothEnds(t, srv, "the refused connection is closed")
	if status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/unban", ""); status != 200 {
		t.Fatalf("unban = %d %v", status, out)
	}
	if status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/unlink", ""); status != 200 || out["affected"] != float64(1) {
		t.Fatalf("unlink = %d %v", status, out)
	}
	status, out = ctl(t, srv, "POST", "/control/accounts/"+account+"/unlink", "")
	if status != 409 || errCode(out) != "no_devices" {
		t.Fatalf("second unlink = %d %v", status, out)
	}
}

func TestControlPairCodeOverHTTP(t *testing.T) {
	srv := startServer(t)
	tc := newClient(t, srv, "")
	tc.connectForQR(t)
	code, err := tc.cli.PairPhone(t.Context(), "15550021001", false, "1", "Chrome (Linux)")
	if err != nil {
		t.Fatal(err)
	}
	body := mustJSON(map[string]string{"phoneNumber": "+15550021001", "code": strings.ToLower(strings.ReplaceAll(code, "-", ""))})
	status, out := ctl(t, srv, "POST", "/control/pair-code", body)
	if status != 200 || out["phoneNumber"] != "15550021001" {
		t.Fatalf("pair-code = %d %v", status, out)
	}
	waitFor[*events.Connected](t, tc.recorder)
}

// GET /control/messages returns what the account sent, decrypted, in order.
func TestControlSentMessages(t *testing.T) {
	srv := startServer(t)
	const account, contact = "15550022001", "15550022999"
	tc := pairQR(t, srv, account)
	if _, err := srv.SendText(t.Context(), wasim.TextMessage{From: contact, To: account, Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	in := waitFor[*events.Message](t, tc.recorder)
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		resp, err := tc.cli.SendMessage(t.Context(), in.Info.Chat, &waE2E.Message{Conversation: &text})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.ID)
	}
	status, out := ctl(t, srv, "GET", "/control/messages?from="+account, "")
	msgs, _ := out["messages"].([]any)
	if status != 200 || len(msgs) != 3 {
		t.Fatalf("messages = %d %v", status, out)
	}
	for i, text := range []string{"one", "two", "three"} {
		m := msgs[i].(map[string]any)
		if m["id"] != ids[i] || m["text"] != text || m["to"] != contact || m["timestamp"] == "" {
			t.Fatalf("message %d = %v", i, m)
		}
	}
	var buf bytes.Buffer
	_ = json.Indent(&buf, []byte(mustJSON(out)), "", "  ")
	t.Logf("GET /control/messages?from=%s\n%s", account, buf.String())
}
