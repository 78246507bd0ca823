package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/bootstrap"
)

// TestDevicesSurviveRestart stores devices through one gateway, stops it, and reads them
// through a new one on the same database.
func TestDevicesSurviveRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) bootstrap.Config
	}{
		{"sqlite", func(t *testing.T) bootstrap.Config {
			return bootstrap.Config{APIKey: apiKey, DataDir: t.TempDir()}
		}},
		{"postgres", func(t *testing.T) bootstrap.Config {
			return bootstrap.Config{APIKey: apiKey, DataDir: t.TempDir(), DatabaseURL: dbtest.PostgresURL(t)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg(t)
			var created deviceJSON
			runGateway(t, cfg, func(c client) {
				c.call("POST", "/api/v1/devices", `{"name":"Survivor"}`, http.StatusCreated, &created)
				c.call("PATCH", "/api/v1/devices/"+created.ID, `{"name":"Survivor 2"}`, http.StatusOK, nil)
			})
			runGateway(t, cfg, func(c client) {
				var got deviceJSON
				c.call("GET", "/api/v1/devices/"+created.ID, "", http.StatusOK, &got)
				if got.Name != "Survivor 2" || got.Status != "created" {
					t.Fatalf("after restart %+v", got)
				}
			})
		})
	}
}

// runGateway builds the gateway as the binary does, serves it while fn runs, and shuts it
// down completely before returning.
func runGateway(t *testing.T, cfg bootstrap.Config, fn func(client)) {
	t.Helper()
	gw, cleanup, err := bootstrap.Build(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	base, stop := serve(t, gw)
	defer stop()
	fn(client{t, base})
}
