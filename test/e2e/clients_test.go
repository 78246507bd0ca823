package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The real Socket.io clients the tests run: socket.io-client from npm (test/js) and
// Debian's python3-socketio, run with Debian's python rather than whatever python3 comes
// first on PATH (a pyenv one lacks the package).
const debianPython = "/usr/bin/python3"

func scriptPath(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{".."}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkClients fails the test with a hint when the clients are not installed.
func checkClients(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(scriptPath(t, "js", "node_modules", "socket.io-client")); err != nil {
		t.Fatal("socket.io-client is not installed: run `npm ci --prefix test/js` (make test does)")
	}
	if err := exec.Command(debianPython, "-c", "import socketio").Run(); err != nil {
		t.Fatal("python3-socketio is not installed: apt-get install python3-socketio python3-websocket python3-requests (.ci/run does)")
	}
}

// process is a client program whose stdout is read line by line. Closing its stdin
// tells the harness scripts to disconnect and exit.
type process struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex
	seen  []string

	// unordered: the client may run its handlers out of order (python-socketio runs
	// each in a thread of its own), so take looks for a match among the events read.
	unordered bool
	pending   []clientEvent
	// kill: the program does not read stdin (the spec's examples run until killed).
	kill bool
}

func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(name, args...), lines: make(chan string, 100_000)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &prefixWriter{t: t, prefix: filepath.Base(args[len(args)-1]) + ": "}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(p.stop)
	return p
}

// stop closes stdin and waits for the process, killing it if it lingers.
func (p *process) stop() {
	p.stdin.Close()
	if p.kill {
		p.cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// waitLine returns the next line for which match is true, failing after timeout. Lines
// read meanwhile are kept in seen.
func (p *process) waitLine(timeout time.Duration, what string, match func(string) bool) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("client exited while waiting for %s; it printed:\n%s", what, strings.Join(p.seen, "\n"))
			}
			p.mu.Lock()
			p.seen = append(p.seen, line)
			p.mu.Unlock()
			if match(line) {
				return line
			}
		case <-deadline:
			p.t.Fatalf("no %s within %v; the client printed:\n%s", what, timeout, strings.Join(p.seen, "\n"))
		}
	}
}

// clientEvent is a line of the harness scripts (test/js/listen.mjs, test/python/listen.py).
type clientEvent struct {
	Event     string         `json:"event"`
	Data      map[string]any `json:"data"`
	Message   string         `json:"message"`
	Reason    string         `json:"reason"`
	Transport string         `json:"transport"`
	Recovered bool           `json:"recovered"` // connect: the client recovered what it missed
	Namespace string         `json:"ns"`        // listen-many.mjs: the namespace of the event
	EventID   string         `json:"eventId"`   // listen-many.mjs, resume.mjs: the event's eventId
}

// next returns the next event the harness printed, skipping transport upgrades.
func (p *process) next(timeout time.Duration) clientEvent {
	p.t.Helper()
	var ev clientEvent
	p.waitLine(timeout, "event", func(line string) bool {
		ev = clientEvent{}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			p.t.Fatalf("client printed %q", line)
		}
		return ev.Event != "upgrade"
	})
	return ev
}

// expect returns the next event and fails unless it is the named one.
func (p *process) expect(name string) clientEvent {
	p.t.Helper()
	return p.take(name, func(ev clientEvent) bool { return ev.Event == name })
}

// take returns the next event, which must match: for an unordered client, the first
// event read so far or later that matches.
func (p *process) take(what string, match func(clientEvent) bool) clientEvent {
	p.t.Helper()
	if !p.unordered {
		ev := p.next(10 * time.Second)
		if !match(ev) {
			p.t.Fatalf("got %q (%+v), want %s; the client printed:\n%s", ev.Event, ev, what, strings.Join(p.seen, "\n"))
		}
		return ev
	}
	for {
		for i, ev := range p.pending {
			if match(ev) {
				p.pending = slices.Delete(p.pending, i, i+1)
				return ev
			}
		}
		p.pending = append(p.pending, p.next(10*time.Second))
	}
}

// quiet fails if the client prints anything within d.
func (p *process) quiet(d time.Duration) {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if ok {
			p.t.Fatalf("unexpected output: %s", line)
		}
	case <-time.After(d):
	}
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.prefix + line)
	}
	return len(b), nil
}

// listener starts a harness listener: lang is "js" or "python".
func listener(t *testing.T, lang, base, namespace, key string, env ...string) *process {
	t.Helper()
	env = append(env, "WAGATE_URL="+base, "NAMESPACE="+namespace, "API_KEY="+key)
	if lang == "python" {
		p := start(t, env, debianPython, "-u", scriptPath(t, "python", "listen.py"))
		p.unordered = true
		return p
	}
	return start(t, env, "node", scriptPath(t, "js", "listen.mjs"))
}

// example writes a copy of one of the spec's client examples with the device id, key
// and address filled in, and runs it.
func example(t *testing.T, base, deviceID, key string, parts ...string) *process {
	t.Helper()
	src, err := os.ReadFile(scriptPath(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("your-device-id-here", deviceID, "your-api-key-here", key,
		"http://localhost:3000", base).Replace(string(src))
	path := filepath.Join(filepath.Dir(scriptPath(t, parts...)), "run-"+filepath.Base(t.Name())+"-"+filepath.Base(parts[len(parts)-1]))
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	var p *process
	if strings.HasSuffix(path, ".py") {
		p = start(t, nil, debianPython, "-u", path)
	} else {
		p = start(t, nil, "node", path)
	}
	p.kill = true
	return p
}
