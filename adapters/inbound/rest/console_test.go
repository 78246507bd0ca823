package rest_test

import (
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/wagate/wagate/adapters/inbound/rest"
)

// The console and what it loads are served without a key, from the binary, under
// headers that keep it out of frames, out of Referer headers and free of inline
// scripts; / leads to it.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	s := startWith(t, key, nil, rest.Options{MaxMediaBytes: 1 << 20})

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/console" {
		t.Fatalf("/: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}

	page := s.do(t, "GET", "/console", nil)
	body := string(page.body)
	if strings.Contains(body, "<script>") || strings.Contains(body, "://") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Fatalf("/console has an inline script or loads from another origin:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) != 2 {
		t.Fatalf("/console loads %v", refs)
	}
	// console.js imports the Socket.io client next to it.
	refs = append(refs, []string{"", "/console/socket.io.esm.min.js"})
	for _, ref := range append(refs, []string{"", "/console"}) {
		res := s.do(t, "GET", ref[1], nil)
		if res.status != 200 || len(res.body) == 0 {
			t.Fatalf("%s: %d", ref[1], res.status)
		}
		checkConsoleHeaders(t, ref[1], res.header, s.url)
		want := map[string]string{".js": "text/javascript", ".css": "text/css", "": "text/html"}[path.Ext(ref[1])]
		if !strings.HasPrefix(res.header.Get("Content-Type"), want) {
			t.Errorf("%s: Content-Type %q", ref[1], res.header.Get("Content-Type"))
		}
	}
	if res := s.do(t, "GET", "/console/socket.io.esm.min.js.map", nil); res.status != 404 {
		t.Errorf("an unlisted file: %d", res.status)
	}
	// A Host header that could smuggle policy directives is left out of the policy.
	req, err := http.NewRequest("GET", s.url+"/console", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil;script-src"
	forged, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if csp := forged.Header.Get("Content-Security-Policy"); forged.StatusCode != 200 || strings.Contains(csp, "evil") || strings.Count(csp, "script-src") != 1 {
		t.Errorf("policy with a forged Host: %d %q", forged.StatusCode, csp)
	}
}

func checkConsoleHeaders(t *testing.T, name string, h http.Header, base string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	host := strings.TrimPrefix(base, "http://")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "frame-ancestors 'none'",
		"connect-src 'self' ws://" + host + " wss://" + host} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: policy %q lacks %q", name, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: policy %q", name, csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: headers %v", name, h)
	}
}
