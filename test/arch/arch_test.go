// Package arch checks the dependency rule of the hexagonal layout: dependencies point
// inward, and the core depends on nothing but the standard library.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wagate/wagate"

// deps lists the non-standard packages that the packages matching pattern depend on.
func deps(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	return strings.Fields(string(out))
}

func TestDependencyRule(t *testing.T) {
	for _, tc := range []struct {
		layer   string
		allowed []string // prefixes of the non-standard packages the layer may use
	}{
		{"domain", []string{module + "/domain"}},
		{"application", []string{module + "/domain", module + "/application"}},
		{"adapters", []string{module + "/domain", module + "/application", module + "/adapters", "github.com/", "go.mau.fi/", "golang.org/", "google.golang.org/", "modernc.org/", "filippo.io/", "mellium.im/"}},
	} {
		t.Run(tc.layer, func(t *testing.T) {
			got := deps(t, "../../"+tc.layer+"/...")
			if len(got) == 0 {
				t.Fatal("go list found nothing: the check would pass vacuously")
			}
			for _, p := range got {
				ok := false
				for _, prefix := range tc.allowed {
					ok = ok || p == prefix || strings.HasPrefix(p, prefix+"/") || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(p, prefix))
				}
				for _, inner := range []string{module + "/bootstrap", module + "/cmd", module + "/test"} {
					if p == inner || strings.HasPrefix(p, inner+"/") {
						ok = false
					}
				}
				if !ok {
					t.Errorf("%s depends on %s", tc.layer, p)
				}
			}
		})
	}
}
