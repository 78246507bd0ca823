package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wagate/wagate/test/logbuf"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wagate-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wagate")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type process struct {
	cmd    *exec.Cmd
	url    string
	stdout *logbuf.Buffer
	stderr *logbuf.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testKey is an API key long enough to be accepted.
const testKey = "test-key-0123456789abcdef0123456789"

// startBinary runs wagate in dir with env and waits until it answers /healthz.
func startBinary(t *testing.T, dir string, env ...string) *process {
	t.Helper()
	return startBinaryOn(t, dir, nil, env...)
}

// startBinaryOn is startBinary with stdout on tty, when not nil, instead of a pipe.
func startBinaryOn(t *testing.T, dir string, tty *os.File, env ...string) *process {
	t.Helper()
	port := freePort(t)
	p := &process{cmd: exec.Command(binary), stdout: &logbuf.Buffer{}, stderr: &logbuf.Buffer{}}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port), "HOST=127.0.0.1"}, env...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if tty != nil {
		p.cmd.Stdout = tty
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	p.url = "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(p.url + "/healthz"); err == nil {
			res.Body.Close()
			return p
		}
	}
	t.Fatalf("wagate did not start: %s", p.stderr)
	return nil
}

// openPTY opens a pseudo-terminal: what the program writes to tty, the test reads from
// the returned output.
func openPTY(t *testing.T) (tty *os.File, out *logbuf.Buffer) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0)
	}
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	out = &logbuf.Buffer{}
	go io.Copy(out, master)
	return tty, out
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wagate did not stop on SIGTERM")
	}
}

func (p *process) get(t *testing.T, path, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// keyFrom finds the generated key in what wagate printed.
func keyFrom(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.TrimSpace(sc.Text()); strings.HasPrefix(f, "wag_") {
			return f
		}
	}
	return ""
}

// Outside a terminal (a container, a service manager) the generated key is only kept in
// its file: whatever the process writes may end up in shipped logs.
func TestFirstStartGeneratesKeyWithoutPrintingIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, "data", "api-key"))
	key := strings.TrimSpace(string(b))
	if err != nil || !strings.HasPrefix(key, "wag_") {
		t.Fatalf("key file: %q, %v", b, err)
	}
	if status, body := p.get(t, "/api/v1/devices", key); status != 200 {
		t.Fatalf("kept key refused: %d %s", status, body)
	}
	if status, _ := p.get(t, "/api/v1/devices", ""); status != 401 {
		t.Fatalf("no key: %d", status)
	}
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "generated an API key") || !strings.Contains(p.stderr.String(), `"file":"data/api-key"`) {
		t.Fatalf("the logs do not say where the key is:\n%s", p.stderr)
	}
	if strings.Contains(p.stdout.String()+p.stderr.String(), key) {
		t.Fatalf("the key was written out:\nstdout: %s\nstderr: %s", p.stdout, p.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "wagate.db")); err != nil {
		t.Fatalf("embedded database not under ./data: %v", err)
	}
}

func TestFirstStartOnATerminalPrintsKeyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tty, out := openPTY(t)
	p := startBinaryOn(t, dir, tty)
	key := ""
	for deadline := time.Now().Add(5 * time.Second); key == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		key = keyFrom(out.String())
	}
	if key == "" {
		t.Fatalf("no key printed on the terminal:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data", "api-key")); err != nil || strings.TrimSpace(string(b)) != key {
		t.Fatalf("printed key is not the kept one: %q, %v", b, err)
	}
	if status, body := p.get(t, "/api/v1/devices", key); status != 200 {
		t.Fatalf("printed key refused: %d %s", status, body)
	}
	p.stop(t)
	if strings.Contains(p.stderr.String(), key) {
		t.Fatal("the key was written to the logs")
	}

	tty, out = openPTY(t)
	p = startBinaryOn(t, dir, tty)
	if status, _ := p.get(t, "/api/v1/devices", key); status != 200 {
		t.Fatalf("kept key refused after restart: %d", status)
	}
	p.stop(t)
	if strings.Contains(out.String(), key) {
		t.Fatal("the key was printed again on the second start")
	}
}

func TestShortAPIKeyIsAConfigurationError(t *testing.T) {
	t.Parallel()
	// Bounded: a gateway that accepted the key would serve until killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "API_KEY=short-key", "HOST=127.0.0.1", "PORT="+strconv.Itoa(freePort(t)))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "configuration: API_KEY must have at least 32 characters, not 9") || strings.Contains(string(out), "short-key") {
		t.Fatalf("short key: %v\n%s", err, out)
	}
}

func TestEmptyAPIKeyRefusesCalls(t *testing.T) {
	p := startBinary(t, t.TempDir(), "API_KEY=")
	if status, _ := p.get(t, "/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	status, body := p.get(t, "/api/v1/devices", "anything")
	if status != 503 || !strings.Contains(body, "Server configuration error") {
		t.Fatalf("REST call with no key configured: %d %s", status, body)
	}
	if !strings.Contains(p.stderr.String(), "API_KEY is set to an empty string") {
		t.Fatalf("no warning logged:\n%s", p.stderr)
	}
	p.stop(t)
}

func TestSecondProcessOnSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, dir, "API_KEY="+testKey)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary)
	second.Dir = dir
	second.Env = append(os.Environ(), "API_KEY="+testKey, "HOST=127.0.0.1", "PORT="+strconv.Itoa(freePort(t)))
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another wagate process") {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	p.stop(t)
}

func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	for i, check := range []func(string) bool{
		func(out string) bool {
			return strings.Contains(out, "database up to date") && !strings.Contains(out, `"applied":0`)
		},
		// Logs are JSON when stderr is not a terminal (LOG_FORMAT=auto).
		func(out string) bool { return strings.Contains(out, `"applied":0`) },
	} {
		cmd := exec.Command(binary, "migrate")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !check(string(out)) {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
		}
	}
}

// The health command succeeds against a live gateway's port and fails without one.
func TestHealthCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	health := func() ([]byte, error) {
		cmd := exec.Command(binary, "health")
		cmd.Env = append(os.Environ(), "PORT="+port, "DATA_DIR="+t.TempDir())
		return cmd.CombinedOutput()
	}
	if out, err := health(); err != nil {
		t.Fatalf("health of a live gateway: %v\n%s", err, out)
	}
	srv.Close()
	if out, err := health(); err == nil || !strings.Contains(string(out), "unhealthy") {
		t.Fatalf("health without a gateway: %v\n%s, want unhealthy", err, out)
	}
}
