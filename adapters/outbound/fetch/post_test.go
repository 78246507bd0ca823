package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wagate/wagate/domain"
)

func TestPosterChecksLiteralAddresses(t *testing.T) {
	p := NewPoster(nil)
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://localhost:8080/", "https://[::1]/", "http://169.254.169.254/latest",
		"http://10.0.0.5/", "http://192.168.1.10:3000/in", "http://api.localhost/",
	} {
		if err := p.Check(u); domain.KindOf(err) != domain.KindInvalid || err.Error() != "url points to an address the gateway does not post to (loopback, private or internal); WEBHOOK_ALLOW lists exceptions" {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, u := range []string{"https://hooks.example.com/in", "http://8.8.8.8/"} {
		if err := p.Check(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if err := NewPoster([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}).Check("http://10.0.0.5/"); err != nil {
		t.Errorf("an allowed network refused: %v", err)
	}
	if err := p.Check("ftp://example.com/"); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("ftp: %v", err)
	}
}

func TestPost(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	code, err := NewPoster(loopback).Post(context.Background(), srv.URL+"/in?x=1", map[string]string{"X-Wagate-Event": "message"}, []byte(`{"a":1}`))
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("post: %d %v", code, err)
	}
	if got.Method != http.MethodPost || got.URL.RequestURI() != "/in?x=1" || got.Header.Get("X-Wagate-Event") != "message" || string(body) != `{"a":1}` {
		t.Fatalf("received %s %s %v %q", got.Method, got.URL, got.Header, body)
	}
}

// The guard refuses the address dialed, on the first request and on every redirect:
// the internal stand-in never sees a connection.
func TestPostRefusesInternalAddresses(t *testing.T) {
	port, conns, _ := standIn(t, "127.0.0.1:0")
	if _, err := NewPoster(nil).Post(context.Background(), "http://localhost:"+port+"/", nil, []byte("{}")); err == nil ||
		err.Error() != "the webhook's address is one the gateway does not post to (loopback, private or internal)" {
		t.Fatalf("post to loopback: %v", err)
	}
	// A receiver allowed (127.0.0.2) redirects to one that is not (127.0.0.1).
	redirect, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: redirect, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+port+"/", http.StatusTemporaryRedirect)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	if _, err := NewPoster([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}).Post(context.Background(), srv.URL, nil, []byte("{}")); err == nil {
		t.Fatal("a redirect to loopback was followed")
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the internal stand-in got %d connections", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
