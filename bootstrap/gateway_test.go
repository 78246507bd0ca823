package bootstrap

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The timeouts the tests serve with: short, so that the tests can outlast them.
const (
	testHeaderTimeout = 300 * time.Millisecond
	testReadTimeout   = 500 * time.Millisecond
)

// serveShortTimeouts runs an in-memory gateway with the test timeouts (and handler, when
// not nil) on a loopback port, and returns its address.
func serveShortTimeouts(t *testing.T, handler http.Handler) string {
	t.Helper()
	gw, err := BuildInMemory(Config{APIKey: strings.Repeat("k", MinAPIKeyLength)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	gw.ReadHeaderTimeout, gw.ReadTimeout = testHeaderTimeout, testReadTimeout
	if handler != nil {
		gw.Handler = handler
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// dribble writes parts to addr one every 100 ms, and returns how long the server let it
// go on before closing the connection; it fails the test if the server never did.
func dribble(t *testing.T, addr, start, part string) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	closed := make(chan struct{})
	go func() {
		// The server's answer, if any, then the end of the connection.
		io.Copy(io.Discard, conn)
		close(closed)
	}()
	if _, err := io.WriteString(conn, start); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(5 * time.Second); ; {
		select {
		case <-closed:
			return time.Since(began)
		case <-deadline:
			t.Fatalf("the server still read from a client dribbling %q after 5 s", part)
		case <-tick.C:
			io.WriteString(conn, part) // fails once the server has closed: then closed is next
		}
	}
}

// The server's deadline starts when it accepts the connection, a little before dribble's
// clock: the lower bounds allow for that.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	addr := serveShortTimeouts(t, nil)
	took := dribble(t, addr, "GET /healthz HTTP/1.1\r\nHost: wagate\r\n", "X-Slow: header\r\n")
	if took < testHeaderTimeout/2 || took > testHeaderTimeout+time.Second {
		t.Fatalf("cut off after %v, want about %v", took, testHeaderTimeout)
	}
}

func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serveShortTimeouts(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	took := dribble(t, addr, "POST /upload HTTP/1.1\r\nHost: wagate\r\nContent-Length: 100000\r\n\r\n", "0123456789")
	if took < testReadTimeout/2 || took > testReadTimeout+time.Second {
		t.Fatalf("cut off after %v, want about %v", took, testReadTimeout)
	}
	var ne net.Error
	if err := <-readErr; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the handler read the body with %v, want a timeout", err)
	}
}

// A Socket.io websocket lives on a hijacked connection, which keeps the read deadline of
// the request that opened it: the engine must keep moving it, or every websocket would
// be cut off after ReadTimeout.
func TestWebsocketOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	addr := serveShortTimeouts(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, open, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("engine.io open packet: %q, %v", open, err)
	}
	time.Sleep(3 * testReadTimeout)
	// A Socket.io CONNECT to the main namespace: any answer shows the server still reads.
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if _, answer, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(answer), "4") {
		t.Fatalf("after %v: answer %q, %v", 3*testReadTimeout, answer, err)
	}
}
