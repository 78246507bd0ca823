package fetch

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

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

func TestFetchRefusesInternalAddresses(t *testing.T) {
	srv := file(t, "secret", "text/plain")
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, u := range []string{
		srv.URL, // loopback, not allowed here
		"http://localhost:" + strconv.Itoa(port) + "/",  // a name for loopback
		"http://[::1]:" + strconv.Itoa(port) + "/",      // IPv6 loopback
		"http://169.254.169.254/latest/meta-data/",      // cloud metadata
		"http://0x7f000001:" + strconv.Itoa(port) + "/", // loopback in hex
		"http://2130706433:" + strconv.Itoa(port) + "/", // loopback as one number
	} {
		_, err := New(Options{}).Fetch(context.Background(), u)
		if domain.KindOf(err) != domain.KindInvalid || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", u, err)
		}
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
