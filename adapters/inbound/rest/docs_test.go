package rest_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/wagate/wagate/adapters/inbound/rest"
)

// The docs page and what it loads are served without a key, from the binary, under a
// Content-Security-Policy that allows no inline script and no other origin.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	contract := []byte("# Socket.io contract\n")
	s := startWith(t, key, nil, rest.Options{MaxMediaBytes: 1 << 20, SocketIOContract: contract})

	page := s.do(t, "GET", "/docs", nil)
	csp := page.header.Get("Content-Security-Policy")
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("/docs: %d %v", page.status, page.header)
	}
	if strings.Contains(string(page.body), "<script>") || strings.Contains(string(page.body), "://") {
		t.Fatalf("/docs has an inline script or loads from another origin:\n%s", page.body)
	}
	for _, link := range []string{`href="/openapi.json"`, `href="/docs/socketio.md"`} {
		if !strings.Contains(string(page.body), link) {
			t.Errorf("/docs does not link %s", link)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="(/docs/[^"]+)"`).FindAllStringSubmatch(string(page.body), -1)
	if len(refs) < 4 {
		t.Fatalf("/docs loads %d assets: %v", len(refs), refs)
	}
	for _, ref := range refs {
		res := s.do(t, "GET", ref[1], nil)
		want := map[bool]string{true: "text/javascript", false: "text/css"}[strings.HasSuffix(ref[1], ".js")]
		if ref[1] == "/docs/socketio.md" {
			want = "text/plain"
		}
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), want) || len(res.body) == 0 {
			t.Errorf("%s: %d %q, %d bytes", ref[1], res.status, res.header.Get("Content-Type"), len(res.body))
		}
	}
	if res := s.do(t, "GET", "/docs/socketio.md", nil); string(res.body) != string(contract) {
		t.Errorf("/docs/socketio.md: %d %q", res.status, res.body)
	}
	if res := s.do(t, "GET", "/docs/openapi.json.bak", nil); res.status != 404 {
		t.Errorf("an unlisted file: %d", res.status)
	}

	res := s.do(t, "GET", "/openapi.json", nil)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if res.status != 200 || json.Unmarshal(res.body, &doc) != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/api/v1/devices"] == nil {
		t.Fatalf("/openapi.json: %d %.200s", res.status, res.body)
	}
}
