package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/wagate/wagate/test/wasim"
)

// debianChromium is the browser the console test drives: playwright-core's own browser
// downloads cannot work on the CI machines (.ci/run installs Debian's chromium).
const debianChromium = "/usr/bin/chromium"

// consoleStep is a line of test/js/console.mjs.
type consoleStep struct {
	Step        string `json:"step"`
	Screenshot  string `json:"screenshot"`
	Message     string `json:"message"`
	AlertHidden bool   `json:"alertHidden"`
	KeyInURL    bool   `json:"keyInURL"`
	ID          string `json:"id"`
	Drawn       struct {
		Width int    `json:"width"`
		Bits  string `json:"bits"`
	} `json:"drawn"`
	Sockets     []string        `json:"sockets"`
	Caption     string          `json:"caption"`
	Phone       string          `json:"phone"`
	PushName    string          `json:"pushName"`
	Events      []string        `json:"events"`
	Visible     int             `json:"visible"`
	JSON        json.RawMessage `json:"json"`
	Result      string          `json:"result"`
	Overflow    int             `json:"overflow"`
	Code        string          `json:"code"`
	PanelHidden bool            `json:"panelHidden"`
	Live        string          `json:"live"`
	Kept        struct {
		Cookies      int  `json:"cookies"`
		LocalStorage int  `json:"localStorage"`
		KeyInURL     bool `json:"keyInURL"`
	} `json:"kept"`
	WorkspaceHidden bool     `json:"workspaceHidden"`
	Problems        []string `json:"problems"`
}

// TestConsole walks the web console as a new user would, in a real browser against the
// simulator: a wrong key, then the right one; a device created and linked by scanning the
// QR code the page draws; a message arriving in the event log; a test message sent.
// Screenshots of each step are kept in test/e2e/artifacts/TestConsole.
func TestConsole(t *testing.T) {
	checkClients(t)
	if _, err := os.Stat(scriptPath(t, "js", "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed: run `npm ci --prefix test/js` (make test does)")
	}
	if _, err := os.Stat(debianChromium); err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium (.ci/run does)")
	}
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	shots, err := filepath.Abs(filepath.Join("artifacts", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	const phone, contact, codePhone = "15550001111", "15550002222", "15550003333"
	p := start(t, []string{"WAGATE_URL=" + gw.base(), "API_KEY=" + apiKey, "CONTACT=+" + contact, "CODE_PHONE=+" + codePhone, "ARTIFACTS=" + shots},
		"node", scriptPath(t, "js", "console.mjs"))
	step := func(name string) consoleStep {
		t.Helper()
		var s consoleStep
		p.waitLine(40*time.Second, "step "+name, func(line string) bool {
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("console.mjs printed %q", line)
			}
			if s.Step == "error" {
				t.Fatalf("console.mjs failed (screenshot %s): %s; problems %v", s.Screenshot, s.Message, s.Problems)
			}
			return s.Step == name
		})
		if s.Screenshot != "" {
			t.Logf("screenshot %s", s.Screenshot)
		}
		return s
	}
	tell := func(v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if _, err := p.stdin.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}

	step("sign-in")
	if s := step("wrong-key"); !strings.Contains(s.Message, "Invalid API key") || !strings.Contains(s.Message, "Sign-in failed") || !s.WorkspaceHidden {
		t.Errorf("a wrong key shows %q, the devices hidden: %v", s.Message, s.WorkspaceHidden)
	}
	if s := step("signed-in"); !s.AlertHidden || s.KeyInURL || !slices.Contains(s.Sockets, "/ws/") {
		t.Errorf("signed in: the error is still shown (%v), the key is in the URL (%v), websockets %v", !s.AlertHidden, s.KeyInURL, s.Sockets)
	}

	// The page draws the code the gateway holds: the image it shows is that code, encoded.
	qr := step("qr")
	var code struct{ QR string }
	gw.api.call("GET", "/api/v1/devices/"+qr.ID+"/qr", "", http.StatusOK, &code)
	if want := qrBits(t, code.QR, 512); qr.Drawn.Width != 512 || qr.Drawn.Bits != want {
		t.Fatalf("the page draws a %d px image that is not the QR code %q", qr.Drawn.Width, code.QR)
	}
	if !strings.HasPrefix(qr.Caption, "Scan within ") {
		t.Errorf("no countdown: %q", qr.Caption)
	}
	if _, err := sim.Scan(t.Context(), wasim.ScanRequest{QR: code.QR, PhoneNumber: "+" + phone, PushName: "Alice", BusinessName: "Alice's Bakery"}); err != nil {
		t.Fatal(err)
	}
	ready := step("ready")
	if ready.Phone != "+"+phone || ready.PushName != "Alice's Bakery" {
		t.Errorf("ready shows %q %q", ready.Phone, ready.PushName)
	}
	for _, ev := range []string{"qr", "authenticated", "ready"} {
		if !slices.Contains(ready.Events, ev) {
			t.Errorf("the event log lacks %s: %v", ev, ready.Events)
		}
	}

	in, err := sim.SendText(t.Context(), wasim.TextMessage{From: contact, To: phone, Text: "hello console", PushName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	tell(map[string]string{"text": "hello console"})
	msg := step("message-in")
	if msg.Visible != 1 || !bytes.Contains(msg.JSON, []byte(fmt.Sprintf(`"id":%q`, in.ID))) {
		t.Errorf("filtered log: %d entries, JSON %s", msg.Visible, msg.JSON)
	}

	sent := step("sent")
	out, err := sim.Sent(phone)
	if err != nil || len(out) == 0 {
		t.Fatalf("sent %v, %v", out, err)
	}
	if last := out[len(out)-1]; last.To != contact || last.Text != "hi from the console" || !strings.Contains(sent.Result, last.ID) {
		t.Errorf("the contact received %+v; the page says %q", last, sent.Result)
	}

	// The other way to link: the code the page shows, typed on the phone.
	pc := step("pair-code")
	if _, err := sim.PairCode(t.Context(), wasim.PairCodeRequest{PhoneNumber: codePhone, Code: pc.Code, PushName: "Carol"}); err != nil {
		t.Fatalf("pair code %q: %v", pc.Code, err)
	}
	if s := step("paired"); s.Phone != "+"+codePhone {
		t.Errorf("paired shows %q", s.Phone)
	}
	deleted := step("deleted")
	if status := gw.api.callStatus("GET", "/api/v1/devices/"+deleted.ID, nil); status != http.StatusNotFound || !deleted.PanelHidden || deleted.Live != "Live" {
		t.Errorf("deleted from the page: GET answers %d, panel hidden %v, the live status says %q", status, deleted.PanelHidden, deleted.Live)
	}

	if s := step("phone"); s.Overflow > 0 || s.Kept.Cookies != 0 || s.Kept.LocalStorage != 0 || s.Kept.KeyInURL {
		t.Errorf("on a phone-sized screen the page is %d px wider than the screen; after a reload: %+v", s.Overflow, s.Kept)
	}
	if s := step("done"); len(s.Problems) > 0 {
		t.Errorf("the page broke its policy or threw: %v", s.Problems)
	}
}

// qrBits is code encoded as the REST API draws it (?format=png&size=), one character per
// pixel, '1' for dark, as console.mjs reads the page's image.
func qrBits(t *testing.T, code string, size int) string {
	t.Helper()
	b, err := qrcode.Encode(code, qrcode.Medium, size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var bits strings.Builder
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			bits.WriteByte("10"[min(r>>15, 1)])
		}
	}
	return bits.String()
}
