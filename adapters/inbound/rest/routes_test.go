package rest

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wagate/wagate/application"
)

// described lists "METHOD /path" for every operation of docs/openapi.json.
func described(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range d.Paths {
		for method := range item {
			if method != "parameters" && method != "summary" && method != "description" {
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	return ops
}

var fiberParam = regexp.MustCompile(`:(\w+)`)

// served lists "METHOD /path" for every route the API serves: fiber's (HEAD is the
// GET's) and the ones net/http serves first, with parameters written as OpenAPI does.
func served(a *API) []string {
	var routes []string
	for _, r := range a.fiber.GetRoutes(true) {
		if r.Method != http.MethodHead {
			routes = append(routes, r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}"))
		}
	}
	for pattern := range a.muxRoutes() {
		routes = append(routes, pattern)
	}
	slices.Sort(routes)
	return slices.Compact(routes)
}

// TestDescriptionCoversEveryRoute fails when a route is served but not described, or
// described but not served.
func TestDescriptionCoversEveryRoute(t *testing.T) {
	doc, err := docsFS.ReadFile("docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	a := New(application.App{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Metrics: http.NotFoundHandler()})
	missing, extra := compareRoutes(served(a), described(t, doc))
	if len(missing) > 0 {
		t.Errorf("served but not in docs/openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in docs/openapi.json but not served: %v", extra)
	}
	if len(served(a)) < 20 {
		t.Fatalf("only %d routes found: the walk misses some", len(served(a)))
	}
}

// compareRoutes returns the routes served and not described, and described and not served.
func compareRoutes(served, described []string) (missing, extra []string) {
	for _, r := range served {
		if !slices.Contains(described, r) {
			missing = append(missing, r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			extra = append(extra, r)
		}
	}
	return missing, extra
}

// The comparison catches a route missing on either side.
func TestCompareRoutesCatchesBothWays(t *testing.T) {
	missing, extra := compareRoutes([]string{"GET /a", "POST /b"}, []string{"GET /a", "GET /c"})
	if !slices.Equal(missing, []string{"POST /b"}) || !slices.Equal(extra, []string{"GET /c"}) {
		t.Fatalf("missing %v, extra %v", missing, extra)
	}
}
