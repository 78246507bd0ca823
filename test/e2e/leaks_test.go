package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// TestMain runs every e2e test with the leak scan and the contract check on (every REST
// call is checked against the OpenAPI description: see contractTransport). The leak scan: all the gateways' log lines and
// every REST response body are searched for the configured key and for every key created
// through the API, and the run fails on a hit. The one response allowed to hold a key is
// the one that creates it.
func TestMain(m *testing.M) {
	c, err := loadContract(descriptionFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	http.DefaultClient.Transport = scanTransport{contractTransport{base: http.DefaultTransport, contract: c}}
	code := m.Run()
	if hits := leaks.found(); len(hits) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: an API key leaked %d times; first: %s\n", len(hits), hits[0])
		code = 1
	}
	os.Exit(code)
}

// leakScan knows the keys of the run and records where one showed up. As an io.Writer it
// scans log output.
type leakScan struct {
	mu      sync.Mutex
	secrets []string
	hits    []string
}

var leaks = &leakScan{secrets: []string{apiKey}}

func (l *leakScan) watch(secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, secret)
}

func (l *leakScan) scan(where string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.secrets {
		if i := bytes.Index(b, []byte(s)); i >= 0 {
			l.hits = append(l.hits, fmt.Sprintf("%s: …%s…", where, b[max(0, i-80):min(len(b), i+len(s)+20)]))
		}
	}
}

func (l *leakScan) found() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits
}

func (l *leakScan) Write(p []byte) (int, error) {
	l.scan("log", p)
	return len(p), nil
}

// scanTransport scans every response body that a test reads over HTTP.
type scanTransport struct{ base http.RoundTripper }

func (s scanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := s.base.RoundTrip(req)
	if err != nil || res.Body == nil || res.StatusCode == http.StatusSwitchingProtocols {
		return res, err // an upgraded connection (websocket) is not a body
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return res, nil // the test sees the short body and judges it
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/api/v1/keys") && res.StatusCode == http.StatusCreated {
		var created struct{ Key string }
		if json.Unmarshal(body, &created) == nil && created.Key != "" {
			leaks.watch(created.Key) // shown here, once; anywhere else it is a leak
			return res, nil
		}
	}
	leaks.scan(req.Method+" "+req.URL.Path, body)
	return res, nil
}

// TestLeakScanCatches proves the scan can fail: a body and a log line with a key are hits.
func TestLeakScanCatches(t *testing.T) {
	l := &leakScan{secrets: []string{"wag_secret"}}
	l.scan("body", []byte(`{"ok":true}`))
	_, _ = l.Write([]byte("level=INFO msg=fine\n"))
	if len(l.found()) != 0 {
		t.Fatalf("false hits: %v", l.found())
	}
	l.scan("body", []byte(`{"apiKey":"wag_secret"}`))
	_, _ = l.Write([]byte("level=WARN key=wag_secret\n"))
	if len(l.found()) != 2 {
		t.Fatalf("hits = %v, want 2", l.found())
	}
}
