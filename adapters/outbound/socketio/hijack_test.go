package socketio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// A websocket handshake hijacks through the wrapper, which then holds nothing of
// net/http's; other requests get net/http's ResponseWriter itself.
func TestLettingGoForgetsTheHijackedWriter(t *testing.T) {
	t.Parallel()
	held := make(chan bool, 1)
	srv := httptest.NewServer(lettingGo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, wrapped := w.(*forgetful)
		if !gorilla.IsWebSocketUpgrade(r) {
			_, _ = w.Write([]byte("plain"))
			held <- wrapped
			return
		}
		conn, err := (&gorilla.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		held <- !wrapped || f.w.Load() != nil
		_ = conn.WriteMessage(gorilla.TextMessage, []byte("hello"))
	})))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if <-held {
		t.Fatal("a plain request got the wrapper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, msg, err := conn.Read(ctx); err != nil || string(msg) != "hello" {
		t.Fatalf("read %q %v", msg, err)
	}
	if <-held {
		t.Fatal("the wrapper still holds net/http's ResponseWriter after the hijack")
	}
}
