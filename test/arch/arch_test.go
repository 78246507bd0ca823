// Package arch checks the dependency rule of the hexagonal layout: dependencies point
// inward, and the core depends on nothing but the standard library.
package arch

import (
	"os/exec"
	"slices"
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
		{"adapters", []string{module + "/domain", module + "/application", module + "/adapters", "github.com/", "go.mau.fi/", "golang.org/", "google.golang.org/", "modernc.org/", "filippo.io/", "mellium.im/", "go.uber.org/"}},
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

// imports maps each package matching pattern to the packages of this module that it
// imports itself. Test files are left out: tests may reach across (see TestAdapterIsolation).
func imports(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	got := make(map[string][]string)
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		got[fields[0]] = nil
		for _, p := range fields[1:] {
			if within(p, module) {
				got[fields[0]] = append(got[fields[0]], p)
			}
		}
	}
	if len(got) == 0 {
		t.Fatal("go list found nothing: the check would pass vacuously")
	}
	return got
}

// within reports whether p is the package prefix or one under it.
func within(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

// adapterOf returns the adapter a package under adapters/ belongs to: adapters/inbound/rest
// for rest, adapters/outbound/whatsmeow for whatsmeow/msgconv.
func adapterOf(p string) string {
	parts := strings.SplitN(strings.TrimPrefix(p, module+"/adapters/"), "/", 3)
	return module + "/adapters/" + strings.Join(parts[:min(2, len(parts))], "/")
}

// TestAdapterIsolation checks that adapters do not know each other: each depends on the
// core and on its own subpackages only, and bootstrap alone puts them together. The
// database's test helper, database/dbtest, is a subpackage of the database adapter like
// any other: it may import the database, and no other adapter's code may import it. The
// tests of other adapters do import it (and the database, to open one as the gateway
// does), as they run against a real database; test files are not part of the adapter.
func TestAdapterIsolation(t *testing.T) {
	for p, imps := range imports(t, "../../adapters/...") {
		for _, imp := range imps {
			if within(imp, module+"/adapters") && adapterOf(imp) != adapterOf(p) {
				t.Errorf("adapter %s imports adapter %s", p, imp)
			}
		}
	}
}

// TestCommands checks that the commands start what they run and nothing more: wagate goes
// through bootstrap, never to an adapter; wasim runs the simulator that lives in test/.
func TestCommands(t *testing.T) {
	allowed := map[string][]string{
		module + "/cmd/wagate": {module + "/bootstrap", module + "/domain", module + "/application"},
		module + "/cmd/wasim":  {module + "/test/wasim"},
	}
	for p, imps := range imports(t, "../../cmd/...") {
		prefixes, ok := allowed[p]
		if !ok {
			t.Errorf("command %s has no rule here: add one", p)
		}
		for _, imp := range imps {
			if !slices.ContainsFunc(prefixes, func(prefix string) bool { return within(imp, prefix) }) {
				t.Errorf("command %s imports %s", p, imp)
			}
		}
	}
}

// TestTestHelpersStayInTests checks that no program code imports a test helper, which
// would build the testing package and test databases into the binary.
func TestTestHelpersStayInTests(t *testing.T) {
	for p, imps := range imports(t, "../../...") {
		for _, imp := range imps {
			if strings.HasSuffix(imp, "/dbtest") && !strings.HasSuffix(p, "/dbtest") {
				t.Errorf("%s imports the test helper %s", p, imp)
			}
		}
	}
}
