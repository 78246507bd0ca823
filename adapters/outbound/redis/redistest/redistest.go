// Package redistest runs a redis-server of the test's own on a free loopback port, so
// that a test can stop and start it (an outage) without touching a shared one. Tests fail,
// never skip, when redis-server is not installed.
package redistest

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Binary is the redis-server the tests run (Debian's redis-server package).
const Binary = "/usr/bin/redis-server"

// Server is a redis-server started by a test, without persistence: stopping it loses
// the streams, as losing a cache node would.
type Server struct {
	tb   testing.TB
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a redis-server on a free port; it is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's address as REDIS_URL takes it.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start starts the server again, on the same port, after Stop.
func (s *Server) Start() {
	s.tb.Helper()
	s.cmd = exec.Command(Binary, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("redistest: start %s (apt-get install redis-server): %v", Binary, err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			c.Close()
			return
		}
	}
	s.Stop()
	s.tb.Fatalf("redistest: redis-server does not listen on port %d", s.port)
}

// Stop kills the server and waits for it to exit; stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}
