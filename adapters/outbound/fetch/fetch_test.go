package fetch

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func TestPublic(t *testing.T) {
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "151.101.1.69"} {
		if !public(netip.MustParseAddr(s)) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{
		"127.0.0.1", "127.1.2.3", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "255.255.255.255",
		"64:ff9b::7f00:1", "2002:7f00:1::", "198.18.0.1",
	} {
		if public(netip.MustParseAddr(s)) {
			t.Errorf("%s allowed", s)
		}
	}
}

func file(t *testing.T, body, contentType string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetch(t *testing.T) {
	srv := file(t, "%PDF-1.4 report", "application/pdf")
	f, err := New(Options{Allow: loopback}).Fetch(context.Background(), srv.URL+"/files/report.pdf?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Data) != "%PDF-1.4 report" || f.MimeType != "application/pdf" || f.FileName != "report.pdf" {
		t.Fatalf("fetched %+v", f)
	}
	png := file(t, "\x89PNG\r\n\x1a\n0000", "")
	if f, err := New(Options{Allow: loopback}).Fetch(context.Background(), png.URL); err != nil || f.MimeType != "image/png" {
		t.Fatalf("sniffed %q, %v", f.MimeType, err)
	}
}

// refusal is what Fetch says when the guard refused the address it was about to dial.
const refusal = "media URL points to an address the gateway does not fetch from (private, loopback or internal)"

// standIn serves "secret" on address (host:0), as an internal service would, and counts
// the connections that reach it. ok is false when the host has no such address.
func standIn(t *testing.T, address string) (port string, conns *atomic.Int32, ok bool) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Logf("no stand-in on %s: %v", address, err)
		return "1", new(atomic.Int32), false
	}
	counting := &countingListener{Listener: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })}
	go srv.Serve(counting)
	t.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, &counting.accepted, true
}

type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// libcStyle resolves the numeric host forms that inet_aton accepts (0x7f000001,
// 2130706433), as the C library resolver does and Go's own does not, so that the guard
// has to refuse them by the address dialed whichever resolver is in use.
func libcStyle(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if n, err := strconv.ParseUint(host, 0, 32); err == nil {
			ip := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
			addr = net.JoinHostPort(ip.String(), port)
		}
		return dial(ctx, network, addr)
	}
}

func TestFetchRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	v4, v4Conns, _ := standIn(t, "127.0.0.1:0")
	v6, v6Conns, _ := standIn(t, "[::1]:0")
	f := New(Options{})
	tr := f.client.Transport.(*http.Transport)
	tr.DialContext = libcStyle(tr.DialContext)
	for _, u := range []string{
		"http://127.0.0.1:" + v4 + "/",   // loopback, not allowed here
		"http://localhost:" + v4 + "/",   // a name for loopback
		"http://[::1]:" + v6 + "/",       // IPv6 loopback
		"http://169.254.169.254/latest/", // cloud metadata
		"http://0x7f000001:" + v4 + "/",  // loopback in hex
		"http://2130706433:" + v4 + "/",  // loopback as one number
	} {
		// Without the guard the metadata address is dialed, and may hang.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := f.Fetch(ctx, u)
		cancel()
		if domain.KindOf(err) != domain.KindInvalid || domain.MessageOf(err) != refusal {
			t.Errorf("%s: %v", u, err)
		}
	}
	if n, m := v4Conns.Load(), v6Conns.Load(); n != 0 || m != 0 {
		t.Errorf("%d connections reached the IPv4 stand-in, %d the IPv6 one", n, m)
	}
}

func TestFetchChecksEveryRedirect(t *testing.T) {
	// An allowed server that redirects to a refused one (127.0.0.2 is not in the allow list).
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	target.Listener = ln
	target.Start()
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/x", http.StatusFound))
	t.Cleanup(redirector.Close)

	_, err = New(Options{Allow: loopback}).Fetch(context.Background(), redirector.URL)
	if domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), "does not fetch from") {
		t.Fatalf("redirect to a refused address: %v", err)
	}
	// Allowing the target lets the same redirect through: the refusal was the guard's.
	both := append(loopback, netip.MustParsePrefix("127.0.0.2/32"))
	if f, err := New(Options{Allow: both}).Fetch(context.Background(), redirector.URL); err != nil || string(f.Data) != "secret" {
		t.Fatalf("allowed redirect: %v", err)
	}
}

func TestFetchLimits(t *testing.T) {
	big := file(t, strings.Repeat("a", 2048), "text/plain")
	if _, err := New(Options{Allow: loopback, MaxBytes: 1024}).Fetch(context.Background(), big.URL); domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("too large: %v", err)
	}
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			w.Write([]byte(strings.Repeat("b", 512)))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(chunked.Close)
	if _, err := New(Options{Allow: loopback, MaxBytes: 1024}).Fetch(context.Background(), chunked.URL); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("too large without Content-Length: %v", err)
	}
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	if _, err := New(Options{Allow: loopback}).Fetch(context.Background(), missing.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "/relative", "gopher://x"} {
		if _, err := New(Options{}).Fetch(context.Background(), u); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%s: %v", u, err)
		}
	}
}
