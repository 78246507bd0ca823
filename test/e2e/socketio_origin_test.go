package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wagate/wagate/bootstrap"
)

// TestBrowserOrigins: a page of a foreign origin cannot open a Socket.io connection,
// over polling or websocket, unless CORS_ORIGINS allows it; the server's own origin and
// clients that send no Origin (anything but a browser) always can. "*" allows every
// origin, without credentials.
func TestBrowserOrigins(t *testing.T) {
	t.Parallel()
	const app, evil = "https://app.example.com", "https://evil.example.com"
	listed := startGateway(t, bootstrap.Config{APIKey: apiKey, CORSOrigins: []string{app}})
	unset := startGateway(t, bootstrap.Config{APIKey: apiKey})
	anyOrigin := startGateway(t, bootstrap.Config{APIKey: apiKey, CORSOrigins: []string{"*"}})
	for _, tc := range []struct {
		name, base, origin string
		allowed            bool
		allowOrigin        string // Access-Control-Allow-Origin on the polling handshake
		credentials        bool   // Access-Control-Allow-Credentials, which matters only with it
	}{
		{"foreign", listed.base, evil, false, "", false},
		{"listed", listed.base, app, true, app, true},
		{"listed in other case", listed.base, "https://APP.example.com", true, "https://APP.example.com", true},
		{"own", listed.base, listed.base, true, "", false},
		{"none", listed.base, "", true, "", false},
		{"foreign, nothing listed", unset.base, app, false, "", false},
		{"own, nothing listed", unset.base, unset.base, true, "", false},
		{"none, nothing listed", unset.base, "", true, "", false},
		{"any", anyOrigin.base, evil, true, "*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := pollingHandshake(t, tc.base, tc.origin)
			if tc.allowed {
				if res.status != http.StatusOK || !strings.HasPrefix(res.body, "0{") {
					t.Fatalf("polling handshake: %d %s", res.status, res.body)
				}
			} else {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if res.status != http.StatusForbidden || json.Unmarshal([]byte(res.body), &e) != nil || e.Error.Code != "forbidden" {
					t.Fatalf("polling handshake: %d %s, want 403 forbidden", res.status, res.body)
				}
			}
			if res.allowOrigin != tc.allowOrigin || (tc.allowOrigin != "" && (res.credentials == "true") != tc.credentials) {
				t.Fatalf("CORS headers: origin %q credentials %q, want %q %v", res.allowOrigin, res.credentials, tc.allowOrigin, tc.credentials)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			conn, wsRes, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tc.base, "http")+"/ws/?EIO=4&transport=websocket&apiKey="+apiKey,
				&websocket.DialOptions{HTTPHeader: h})
			if !tc.allowed {
				if err == nil || wsRes == nil || wsRes.StatusCode != http.StatusForbidden {
					t.Fatalf("websocket handshake: %v %v, want 403", wsRes, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("websocket handshake: %v", err)
			}
			defer conn.CloseNow()
			if _, open, err := conn.Read(ctx); err != nil || !strings.HasPrefix(string(open), "0{") {
				t.Fatalf("websocket: engine.io open packet %q %v", open, err)
			}
		})
	}
}

type handshake struct {
	status                   int
	body                     string
	allowOrigin, credentials string
}

// pollingHandshake opens an engine.io session over polling, as a browser page of
// origin would ("" for no Origin header).
func pollingHandshake(t *testing.T, base, origin string) handshake {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/ws/?EIO=4&transport=polling&apiKey="+apiKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return handshake{res.StatusCode, string(b), res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials")}
}
