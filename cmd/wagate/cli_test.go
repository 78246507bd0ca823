package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/test/logbuf"
	"github.com/wagate/wagate/test/wasim"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "version").CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) < 3 || !strings.HasPrefix(lines[0], "wagate ") || !strings.HasPrefix(lines[1], "commit ") ||
		lines[len(lines)-1] != "go       "+runtime.Version() {
		t.Fatalf("wagate version: %v\n%s", err, out)
	}
}

// What a binary built in a git checkout records is printed, commit and time included.
func TestPrintVersion(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printVersion(&b, &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-11-29T16:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}})
	want := "wagate v1.2.3\ncommit   0123abc (with uncommitted changes)\ntime     2026-11-29T16:00:00Z\ngo       go1.26.0\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// wagateCmd runs a command-line tool against the gateway p, in dir, with env.
func wagateCmd(ctx context.Context, p *process, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), append([]string{"PORT=" + p.url[strings.LastIndex(p.url, ":")+1:]}, env...)...)
	return cmd
}

func (p *process) post(t *testing.T, path, key, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.url+path, strings.NewReader(body))
	req.Header.Set("X-API-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// wagate devices lists the running gateway's devices, with the key of API_KEY or the
// one the gateway generated under DATA_DIR.
func TestDevicesCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, dir) // generates data/api-key
	raw, err := os.ReadFile(filepath.Join(dir, "data", "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	var ids []string
	for _, name := range []string{"Sales", "Support desk"} {
		var d struct{ ID string }
		p.post(t, "/api/v1/devices", key, `{"name":"`+name+`"}`, &d)
		ids = append(ids, d.ID)
	}
	for _, env := range [][]string{nil, {"API_KEY=" + key, "DATA_DIR=" + t.TempDir()}} {
		out, err := wagateCmd(t.Context(), p, dir, env, "devices").CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME STATUS PHONE" ||
			strings.Join(strings.Fields(lines[1]), " ") != ids[0]+" Sales created -" ||
			strings.Join(strings.Fields(lines[2]), " ") != ids[1]+" Support desk created -" {
			t.Fatalf("wagate devices (env %v): %v\n%s", env, err, out)
		}
	}
	out, err := wagateCmd(t.Context(), p, t.TempDir(), nil, "devices").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no API key: set API_KEY") {
		t.Fatalf("without a key: %v\n%s", err, out)
	}
	out, err = wagateCmd(t.Context(), p, dir, []string{"API_KEY=" + testKey}, "devices").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401 unauthorized: Invalid API key") {
		t.Fatalf("with a wrong key: %v\n%s", err, out)
	}
	out, err = wagateCmd(t.Context(), p, dir, nil, "qr", "01a2183d-3442-7f8b-b93f-f0d4ca1b7239").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "404 not_found") {
		t.Fatalf("qr of an unknown device: %v\n%s", err, out)
	}
}

// wagate qr links a device from the terminal: it connects the device, prints the
// gateway's current QR code in half blocks, and ends once the phone scanned it.
func TestQRCommand(t *testing.T) {
	t.Parallel()
	sim := wasim.Start(t)
	info := sim.Info()
	dir := t.TempDir()
	p := startBinary(t, dir, "API_KEY="+testKey, "WHATSAPP_SERVER_URL="+info.ServerURL, "WHATSAPP_SERVER_ROOT_KEY="+info.RootKey)
	var d struct{ ID string }
	p.post(t, "/api/v1/devices", testKey, `{"name":"Terminal"}`, &d)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := wagateCmd(ctx, p, dir, []string{"API_KEY=" + testKey}, "qr", "-timeout", "50s", d.ID)
	out := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var printed [][]bool
	for deadline := time.Now().Add(30 * time.Second); printed == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no QR code printed:\n%s\ngateway:\n%s", out, p.stderr)
		}
		printed = parseHalfBlocks(out.String())
	}
	status, body := p.get(t, "/api/v1/devices/"+d.ID+"/qr", testKey)
	var qr struct{ QR string }
	if status != 200 || json.Unmarshal([]byte(body), &qr) != nil {
		t.Fatalf("GET qr: %d %s", status, body)
	}
	want, err := qrMatrix(qr.QR)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(printed, want, slices.Equal) {
		t.Fatalf("the printed code is not the gateway's QR code %q:\n%s", qr.QR, out)
	}
	if _, err := sim.Scan(ctx, wasim.ScanRequest{QR: qr.QR, PhoneNumber: "15550007777"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "Linked: device "+d.ID+" is ready (15550007777).") {
			t.Fatalf("wagate qr: %v\n%s", err, out)
		}
	case <-ctx.Done():
		t.Fatalf("wagate qr did not end once linked:\n%s", out)
	}
	again, err := wagateCmd(ctx, p, dir, []string{"API_KEY=" + testKey}, "qr", d.ID).CombinedOutput()
	if err == nil || !strings.Contains(string(again), "is linked already (15550007777)") {
		t.Fatalf("qr of a linked device: %v\n%s", err, again)
	}
}

// parseHalfBlocks rebuilds the matrix of the last QR code in out, drawn with light
// modules as blocks (the default), true for dark modules; nil until one is printed whole.
func parseHalfBlocks(out string) [][]bool {
	var block []string
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if strings.ContainsAny(line, "█▀▄") {
			block = append(block, line)
		} else if len(block) > 0 {
			break
		}
	}
	if len(block) == 0 {
		return nil
	}
	var m [][]bool
	for _, line := range block {
		top, bottom := []bool{}, []bool{}
		for _, r := range line {
			// A block character draws light modules: its filled halves are light.
			top = append(top, r != '█' && r != '▀')
			bottom = append(bottom, r != '█' && r != '▄')
		}
		m = append(m, top, bottom)
	}
	// An odd number of rows draws its last one over a light half.
	if n := len(m[0]); len(m) > n {
		m = m[:n]
	}
	return m
}

// -invert draws the dark modules, for dark text on a light background: the default
// drawing (checked by TestQRCommand) with every half the other way round.
func TestHalfBlocksInverted(t *testing.T) {
	t.Parallel()
	const code = "2@abc,def,ghi,jkl"
	swap := map[rune]rune{'█': ' ', ' ': '█', '▀': '▄', '▄': '▀', '\n': '\n'}
	inverted := strings.Map(func(r rune) rune { return swap[r] }, halfBlocks(code, false))
	if inverted != halfBlocks(code, true) || !strings.Contains(inverted, "▀") {
		t.Fatalf("inverted drawing:\n%s", halfBlocks(code, false))
	}
}
