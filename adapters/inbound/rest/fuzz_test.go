package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// FuzzDecodeJSON sends arbitrary bodies and content types to a route that decodes the
// body of POST /devices/:id/messages. decodeJSON must accept exactly one JSON object with
// known fields and nothing after it, sent as JSON; anything else is a JSON error with a
// 4xx status.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"to":"+15559876543","text":"hi"}`,
		`{"to":"15559876543","media":{"type":"image","data":"AAAA","mimetype":"image/png"}}`,
		`{"to":"15559876543","location":{"latitude":52.52,"longitude":13.405,"name":"Berlin"}}`,
		`{"to":"15559876543","contact":{"name":"Bob","phoneNumber":"+15550002222"}}`,
		`{"to":"15559876543","reaction":{"messageId":"3EB0X","emoji":"👍"},"mentions":["1"]}`,
		`{"to":"15559876543","text":"x","colour":"red"}`,
		`{"to":"1","media":{"type":"image","data":"not base64!"}}`,
		`{"to":"1"}{"to":"2"}`, `{"to":"1"}}`, `{"to":"1"} x`, `null`, `[]`, `"x"`, `{"to":`, ``, `  `,
	} {
		f.Add("application/json", []byte(seed))
	}
	f.Add("application/vnd.wagate+json; charset=utf-8", []byte(`{"TO":"1"}`))
	f.Add("text/plain", []byte(`{"to":"1"}`))
	f.Add("", []byte(`{}`))

	// Headers as large as the gateway's server reads (net/http's default limit): fiber's
	// own 4 KiB read buffer would refuse a long Content-Type before decodeJSON sees it.
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(slog.New(slog.DiscardHandler)), ReadBufferSize: http.DefaultMaxHeaderBytes})
	app.Post("/decode", func(c *fiber.Ctx) error {
		var body sendJSON
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if strings.ContainsFunc(contentType, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return // not a header value an HTTP client could send
		}
		req := httptest.NewRequest("POST", "/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		if res.StatusCode == fiber.StatusNoContent {
			if why := refusable(contentType, body); why != "" {
				t.Fatalf("accepted %q as %q although %s", body, contentType, why)
			}
			return
		}
		var e errorBody
		if res.StatusCode < 400 || res.StatusCode > 499 || json.Unmarshal(answer, &e) != nil ||
			e.Error.Code == "" || e.Error.Message == "" || statusByCode[e.Error.Code] != res.StatusCode {
			t.Fatalf("refused %q as %q with %d %s", body, contentType, res.StatusCode, answer)
		}
	})
}

// refusable says why decodeJSON should have refused the body, or "" if nothing.
func refusable(contentType string, body []byte) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return "the content type is not JSON"
	}
	if !json.Valid(body) {
		return "it is not one JSON value alone"
	}
	if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
		return "it is not an object"
	}
	if !onlyKnownFields(reflect.TypeFor[sendJSON](), body) {
		return "it has an unknown field"
	}
	return ""
}

// onlyKnownFields reports whether the JSON object raw has only fields of the struct type
// t, at every depth; encoding/json matches their names regardless of case.
func onlyKnownFields(t reflect.Type, raw json.RawMessage) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return true // not an object: a type error, not an unknown field
	}
	for name, value := range fields {
		known := false
		for i := range t.NumField() {
			sf := t.Field(i)
			if !strings.EqualFold(strings.Split(sf.Tag.Get("json"), ",")[0], name) {
				continue
			}
			known = true
			if ft := sf.Type; ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && !onlyKnownFields(ft.Elem(), value) {
				return false
			}
		}
		if !known {
			return false
		}
	}
	return true
}
