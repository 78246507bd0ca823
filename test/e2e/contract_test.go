package e2e

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/wagate/wagate/test/wasim"
)

// descriptionFile is the REST API's OpenAPI description, the one /openapi.json serves.
const descriptionFile = "../../adapters/inbound/rest/docs/openapi.json"

// maxCheckedBody is how much of a request body the contract check keeps; larger bodies
// (big uploads) are sent without their request being checked.
const maxCheckedBody = 8 << 20

// contract checks REST traffic against the description with libopenapi-validator.
type contract struct{ v validator.Validator }

func loadContract(path string) (*contract, error) {
	spec, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	// Multipart forms (message uploads) are checked too, not only JSON.
	v, errs := validator.NewValidator(doc, config.WithStandardBodyDecoders())
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", path, errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %s", path, describeErrors(verrs))
	}
	return &contract{v: v}, nil
}

// checks tells the paths the description covers: the gateway's REST API, not the
// Socket.io gateway (/ws) nor the simulator's control API.
func checks(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") || path == "/api/v1" ||
		path == "/healthz" || path == "/readyz" || path == "/openapi.json" || path == "/docs" || strings.HasPrefix(path, "/docs/")
}

// check reports how req (sent with body) and res (with resBody) stray from the
// description, "" when they do not. A request is checked when the gateway accepted it
// (2xx): the description must admit everything the gateway accepts, and the tests send
// refused requests on purpose. Every response is checked, errors included; one for a
// route the description does not have must be the error of an unknown route.
func (c *contract) check(req *http.Request, body []byte, bodyKept bool, res *http.Response, resBody []byte) string {
	var errs []*liberrors.ValidationError
	if res.StatusCode/100 == 2 && bodyKept {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		if ok, e := c.v.ValidateHttpRequestSync(r); !ok {
			errs = append(errs, e...)
		}
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	ok, e := c.v.ValidateHttpResponse(r, res)
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if !ok {
		if unknownRoute(e) && (res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed) &&
			(bytes.Contains(resBody, []byte(`"route_not_found"`)) || bytes.Contains(resBody, []byte(`"method_not_allowed"`))) {
			return "" // a test asking for a route that does not exist, and told so
		}
		errs = append(errs, e...)
	}
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s → %d %.300s: %s", req.Method, req.URL.RequestURI(), res.StatusCode, resBody, describeErrors(errs))
}

// unknownRoute reports whether the validator found no operation for the request.
func unknownRoute(errs []*liberrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType != helpers.PathValidation && e.ValidationSubType != helpers.ValidationMissingOperation {
			return false
		}
	}
	return len(errs) > 0
}

func describeErrors(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n\t%s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n\t\t%s at %s (%s)", s.Reason, s.FieldPath, s.KeywordLocation)
		}
	}
	return b.String()
}

// contractTransport fails every REST call whose request or response strays from the
// description: the error reaches the test through its HTTP client, which fails it.
type contractTransport struct {
	base     http.RoundTripper
	contract *contract
}

func (ct contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !checks(req.URL.Path) {
		return ct.base.RoundTrip(req)
	}
	var sent *boundedBuffer
	if req.Body != nil && req.Body != http.NoBody {
		sent = &boundedBuffer{limit: maxCheckedBody}
		req.Body = teeCloser{Reader: io.TeeReader(req.Body, sent), Closer: req.Body}
	}
	res, err := ct.base.RoundTrip(req)
	if err != nil || res.StatusCode == http.StatusSwitchingProtocols {
		return res, err
	}
	resBody, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if err != nil {
		return res, nil // the test sees the short body and judges it
	}
	body, kept := sent.bytes()
	if problem := ct.contract.check(req, body, kept, res, resBody); problem != "" {
		return nil, fmt.Errorf("the API strays from its OpenAPI description (%s): %s", descriptionFile, problem)
	}
	return res, nil
}

// timedClient is the client of the calls that benchmarks time: the leak scan without the
// contract check, whose cost would be measured with them (the tests check the same calls).
var timedClient = &http.Client{Transport: scanTransport{http.DefaultTransport}}

type teeCloser struct {
	io.Reader
	io.Closer
}

// boundedBuffer keeps what a request sent, up to limit; the transport writes the body
// in a goroutine of its own, hence the lock.
type boundedBuffer struct {
	mu       sync.Mutex
	b        bytes.Buffer
	limit    int
	overflow bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len()+len(p) > w.limit {
		w.overflow = true
	} else {
		w.b.Write(p)
	}
	return len(p), nil
}

// bytes is what was sent, and whether it was kept whole. No body: nothing, kept.
func (w *boundedBuffer) bytes() ([]byte, bool) {
	if w == nil {
		return nil, true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.b.Bytes()), !w.overflow
}

// TestContractCatchesStrays proves the check can fail: a response or an accepted request
// that the description does not admit is reported, a conforming one is not.
func TestContractCatchesStrays(t *testing.T) {
	c, err := loadContract(descriptionFile)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
		req.Header.Set("X-API-Key", apiKey)
		return req
	}
	post := func(path string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1"+path, nil)
		req.Header.Set("X-API-Key", apiKey)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	const device = `{"id":"01a2183d-3442-7f8b-b93f-f0d4ca1b7239","name":"a","status":"created","phoneNumber":null,"jid":null,` +
		`"pushName":null,"businessName":null,"lastDisconnectReason":null,"banExpiresAt":null,` +
		`"createdAt":"2026-11-26T14:23:13.986563Z","updatedAt":"2026-11-26T14:23:13.986563Z","lastConnectedAt":null}`
	answer := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
	}
	for _, tc := range []struct {
		name    string
		req     *http.Request
		body    string
		status  int
		resBody string
		stray   bool
	}{
		{"health", get("/healthz"), "", 200, `{"status":"ok"}`, false},
		{"wrong health", get("/healthz"), "", 200, `{"status":"fine"}`, true},
		{"error", get("/api/v1/devices/x"), "", 400, `{"error":{"code":"invalid_request","message":"bad id"}}`, false},
		{"error without its code", get("/api/v1/devices/x"), "", 400, `{"error":{"message":"bad id"}}`, true},
		{"device list missing total", get("/api/v1/devices"), "", 200, `{"devices":[],"limit":50,"offset":0}`, true},
		{"unknown route", get("/api/v1/nothing"), "", 404, `{"error":{"code":"route_not_found","message":"no such route"}}`, false},
		{"unknown route answered", get("/api/v1/nothing"), "", 200, `{}`, true},
		{"refused request", post("/api/v1/devices"), `{"name":"a","colour":"red"}`, 400, `{"error":{"code":"invalid_json","message":"unknown field \"colour\""}}`, false},
		{"accepted request with an undescribed field", post("/api/v1/devices"), `{"name":"a","colour":"red"}`, 201, device, true},
		{"accepted request", post("/api/v1/devices"), `{"name":"a"}`, 201, device, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problem := c.check(tc.req, []byte(tc.body), true, answer(tc.status, tc.resBody), []byte(tc.resBody))
			if (problem != "") != tc.stray {
				t.Fatalf("problem %q, want a problem: %v", problem, tc.stray)
			}
		})
	}
}

// TestEndpointsMatchTheDescription walks the endpoints the other e2e tests use little or
// not at all, with a linked device, so that their real answers meet the description:
// message history, a multipart upload, the event feeds, keys, pairing, the docs.
func TestEndpointsMatchTheDescription(t *testing.T) {
	t.Parallel()
	sim := wasim.Start(t)
	gw := startLive(t, simConfig(t, sim, ""))
	api := gw.api
	id := linkDevice(t, api, sim, "15550008888")

	if _, err := sim.SendMessage(t.Context(), wasim.IncomingMessage{From: "15550009999", To: "15550008888", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	var history struct {
		Messages []map[string]any
		Next     string
	}
	for deadline := time.Now().Add(10 * time.Second); len(history.Messages) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the received message is not in the history")
		}
		api.call("GET", "/api/v1/devices/"+id+"/messages?limit=10&chat=15550009999@s.whatsapp.net", "", http.StatusOK, &history)
	}

	// A multipart upload, through the client every test uses (and so checked).
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("to", "+15550009999")
	_ = mw.WriteField("text", "the report")
	fw, _ := mw.CreateFormFile("file", "report.txt")
	_, _ = fw.Write([]byte("quarterly figures"))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", gw.base()+"/api/v1/devices/"+id+"/messages", &form)
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("multipart upload: %d", res.StatusCode)
	}

	var page struct{ Events []map[string]any }
	api.call("GET", "/api/v1/events?limit=1000", "", http.StatusOK, &page)
	kinds := map[string]bool{}
	// The sends' receipts come from WhatsApp a moment after the calls return.
	for deadline := time.Now().Add(10 * time.Second); !kinds["receipt"] && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		api.call("GET", "/api/v1/devices/"+id+"/events?after=0", "", http.StatusOK, &page)
		for _, e := range page.Events {
			kinds[e["event"].(string)] = true
		}
	}
	for _, k := range []string{"state", "qr", "authenticated", "ready", "message", "receipt"} {
		if !kinds[k] {
			t.Errorf("no %s event in the feed: the description of its payload went unchecked", k)
		}
	}
	api.call("POST", "/api/v1/devices/"+id+"/disconnect", "", http.StatusOK, nil)
	api.call("GET", "/api/v1/devices?status=disconnected,ready", "", http.StatusOK, nil)

	var created struct{ ID string }
	api.call("POST", "/api/v1/keys", `{"name":"reader","role":"read-only","devices":["`+id+`"],"expiresAt":"2099-01-01T00:00:00Z"}`, http.StatusCreated, &created)
	api.call("GET", "/api/v1/keys", "", http.StatusOK, nil)
	api.call("DELETE", "/api/v1/keys/"+created.ID, "", http.StatusNoContent, nil)

	var pairing struct{ ID string }
	api.call("POST", "/api/v1/devices", `{"name":"pairing"}`, http.StatusCreated, &pairing)
	api.call("POST", "/api/v1/devices/"+pairing.ID+"/connect", "", http.StatusAccepted, nil)
	for deadline := time.Now().Add(10 * time.Second); api.callStatus("GET", "/api/v1/devices/"+pairing.ID+"/qr", &struct{}{}) != http.StatusOK; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no QR code")
		}
	}
	api.call("GET", "/api/v1/devices/"+pairing.ID+"/qr?format=png&size=256", "", http.StatusOK, nil)
	api.call("POST", "/api/v1/devices/"+pairing.ID+"/pair-code", `{"phoneNumber":"+15550001212"}`, http.StatusOK, nil)
	api.call("POST", "/api/v1/devices/"+pairing.ID+"/logout", "", http.StatusConflict, nil)
	api.call("DELETE", "/api/v1/devices/"+pairing.ID, "", http.StatusNoContent, nil)

	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/socketio.md", "/docs/docs.js"} {
		api.call("GET", path, "", http.StatusOK, nil)
	}
}
