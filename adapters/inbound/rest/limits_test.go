package rest_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/inbound/rest"
	"github.com/wagate/wagate/domain/device"
)

// rawRequest sends a request's head (and prefix of its body) on a new connection and
// returns the connection, so that a test decides when, if ever, the rest of the body comes.
func (s *server) rawRequest(t *testing.T, head string, body []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readResponse reads the answer on conn, failing when none comes within the timeout.
func readResponse(t *testing.T, conn net.Conn, timeout time.Duration) response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", timeout, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestKeyIsCheckedBeforeTheBody: a request without a valid key is answered from its
// headers alone, however large a body it announces, so that nobody without a key can
// make the server buffer anything.
func TestKeyIsCheckedBeforeTheBody(t *testing.T) {
	s := start(t, key, nil)
	id := s.create(t, "a")["id"].(string)
	for _, tc := range []struct{ name, keyHeader, path, ctype string }{
		{"no key, message", "", "/api/v1/devices/" + id + "/messages", "application/json"},
		{"wrong key, message", "X-API-Key: wrong\r\n", "/api/v1/devices/" + id + "/messages", "application/json"},
		{"wrong key, upload", "X-API-Key: wrong\r\n", "/api/v1/devices/" + id + "/messages", "multipart/form-data; boundary=x"},
		{"wrong key, device", "X-API-Key: wrong\r\n", "/api/v1/devices", "application/json"},
	} {
		// 40 MB announced, none sent: only an answer from the headers can come back.
		conn := s.rawRequest(t, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\nContent-Length: 40000000\r\n", tc.path, tc.keyHeader, tc.ctype), nil)
		r := readResponse(t, conn, 3*time.Second)
		if code, _ := r.errorOf(t); r.status != 401 || code != "unauthorized" {
			t.Errorf("%s: %d %s, want 401", tc.name, r.status, r.body)
		}
	}
	// With a key, a body larger than the limit is refused from its announced length.
	conn := s.rawRequest(t, "POST /api/v1/devices/"+id+"/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: "+key+"\r\nContent-Type: application/json\r\nContent-Length: 400000000\r\n", nil)
	if r := readResponse(t, conn, 3*time.Second); r.status != 413 {
		t.Fatalf("announced 400 MB: %d %s", r.status, r.body)
	}
}

// TestLargeUploadsAreBounded: past MaxUploads large bodies under way, more are refused at
// once with 503 and Retry-After, and small requests are not affected.
func TestLargeUploadsAreBounded(t *testing.T) {
	s := startWith(t, key, nil, rest.Options{MaxMediaBytes: 4 << 20, MaxUploads: 2})
	id := s.ready(t)
	head := "POST /api/v1/devices/" + id + "/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n"
	var held []net.Conn
	for range 2 {
		held = append(held, s.rawRequest(t, head, []byte(`{"to":"15550001111","media":{"type":"document","data":"`)))
	}
	time.Sleep(100 * time.Millisecond) // both are being received
	r := readResponse(t, s.rawRequest(t, head, nil), 3*time.Second)
	if code, _ := r.errorOf(t); r.status != 503 || code != "busy" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third large upload: %d %v %s", r.status, r.header, r.body)
	}
	if r := s.call(t, "POST", "/api/v1/devices/"+id+"/messages", `{"to":"15550001111","text":"small"}`); r.status != 201 {
		t.Fatalf("a small message while uploads are full: %d %s", r.status, r.body)
	}
	held[0].Close()
	time.Sleep(100 * time.Millisecond) // its slot is given back
	body := `{"to":"15550001111","media":{"type":"document","mimetype":"application/pdf","data":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1<<20+1)) + `"}}`
	if r := s.call(t, "POST", "/api/v1/devices/"+id+"/messages", body); r.status != 201 {
		t.Fatalf("a large upload once a slot is free: %d %s", r.status, r.body)
	}
}

// TestMediaLimitHoldsForEveryUpload: MEDIA_MAX_BYTES holds for inline and multipart files,
// not only for files fetched by URL.
func TestMediaLimitHoldsForEveryUpload(t *testing.T) {
	s := start(t, key, nil) // 4 MiB
	id := s.ready(t)
	big := bytes.Repeat([]byte("x"), 4<<20+1)
	inline := `{"to":"15550001111","media":{"type":"document","mimetype":"application/pdf","data":"` + base64.StdEncoding.EncodeToString(big) + `"}}`
	r := s.call(t, "POST", "/api/v1/devices/"+id+"/messages", inline)
	if code, msg := r.errorOf(t); r.status != 413 || code != "payload_too_large" || !strings.Contains(msg, "media file too large (limit 4194304 bytes)") {
		t.Fatalf("inline: %d %s", r.status, r.body)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("to", "15550001111")
	fw, _ := mw.CreateFormFile("file", "big.bin")
	_, _ = fw.Write(big)
	_ = mw.Close()
	r = s.do(t, "POST", "/api/v1/devices/"+id+"/messages", &form, "X-API-Key", key, "Content-Type", mw.FormDataContentType())
	if code, msg := r.errorOf(t); r.status != 413 || code != "payload_too_large" || !strings.Contains(msg, "media file too large") {
		t.Fatalf("multipart: %d %s", r.status, r.body)
	}
	if sent := s.wa.Sent(deviceID(id)); len(sent) != 0 {
		t.Fatalf("an over-limit file was sent: %d messages", len(sent))
	}
}

// TestMediaURLIsFetchedOnlyForADeviceThatCanSend: the gateway does not fetch a URL for a
// device that does not exist or is not ready.
func TestMediaURLIsFetchedOnlyForADeviceThatCanSend(t *testing.T) {
	s := start(t, key, nil)
	idle := s.create(t, "idle")["id"].(string)
	body := `{"to":"15550001111","media":{"type":"image","url":"https://files.example/cat.jpg"}}`
	if r := s.call(t, "POST", "/api/v1/devices/"+idle+"/messages", body); r.status != 409 {
		t.Fatalf("not ready: %d %s", r.status, r.body)
	}
	if r := s.call(t, "POST", "/api/v1/devices/0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f/messages", body); r.status != 404 {
		t.Fatalf("no such device: %d %s", r.status, r.body)
	}
	if got := s.files.Fetched(); len(got) != 0 {
		t.Fatalf("fetched %v for devices that cannot send", got)
	}
}

// TestFailedAuthenticationsAreThrottled: past the budget of failures, one address gets 429
// with Retry-After, while a valid key from that same address still gets in.
func TestFailedAuthenticationsAreThrottled(t *testing.T) {
	s := start(t, key, nil)
	var last response
	for i := range 25 {
		last = s.do(t, "GET", "/api/v1/devices", nil, "X-API-Key", fmt.Sprintf("wrong-%d", i))
		if i < 20 && last.status != 401 {
			t.Fatalf("failure %d: %d %s", i, last.status, last.body)
		}
	}
	code, msg := last.errorOf(t)
	if last.status != 429 || code != "rate_limited" || last.header.Get("Retry-After") == "" || !strings.Contains(msg, "Too many failed") {
		t.Fatalf("after 25 failures: %d %v %s", last.status, last.header, last.body)
	}
	if r := s.call(t, "GET", "/api/v1/devices", ""); r.status != 200 {
		t.Fatalf("valid key from the throttled address: %d %s", r.status, r.body)
	}
}

func deviceID(s string) device.ID { return device.ID(s) }
