package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wagate/wagate/bootstrap"
)

// gateway is a client of the running gateway's REST API, for the commands an operator
// runs on its host (devices, qr). They talk to the gateway rather than open its
// database: the embedded database is locked by the running gateway, and only the
// gateway that runs a device's session has its QR code.
type gateway struct {
	base string
	key  string
	http *http.Client
}

// gatewayFlags adds -url to fs; dial makes the client once fs is parsed. The key comes
// from API_KEY, or the file where the gateway keeps the key it generated.
func gatewayFlags(fs *flag.FlagSet, cfg bootstrap.Config) func() (*gateway, error) {
	base := fs.String("url", fmt.Sprintf("http://127.0.0.1:%d", cfg.Port), "the gateway's base URL")
	return func() (*gateway, error) {
		key, err := cfg.ClientAPIKey()
		if err != nil {
			return nil, err
		}
		return &gateway{base: strings.TrimSuffix(*base, "/"), key: key, http: &http.Client{Timeout: 10 * time.Second}}, nil
	}
}

// apiError is an answer of the API other than the one expected.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("the gateway answered %d", e.status)
	}
	return fmt.Sprintf("the gateway answered %d %s: %s", e.status, e.code, e.msg)
}

// isCode reports whether err is the API's answer with that status.
func isStatus(err error, status int) bool {
	var e *apiError
	return errors.As(err, &e) && e.status == status
}

// call sends a request and decodes a JSON answer with status want into out (when not nil).
func (g *gateway) call(ctx context.Context, method, path string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", g.key)
	res, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the gateway (is it running? -url sets where): %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(body, &e)
		return &apiError{status: res.StatusCode, code: e.Error.Code, msg: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// device is what the commands show of a device.
type device struct {
	ID                   string  `json:"id"`
	Name                 string  `json:"name"`
	Status               string  `json:"status"`
	PhoneNumber          *string `json:"phoneNumber"`
	LastDisconnectReason *string `json:"lastDisconnectReason"`
}

func (g *gateway) device(ctx context.Context, id string) (device, error) {
	var d device
	return d, g.call(ctx, http.MethodGet, "/api/v1/devices/"+url.PathEscape(id), http.StatusOK, &d)
}

// devices lists every device, page by page.
func (g *gateway) devices(ctx context.Context) ([]device, error) {
	var all []device
	for {
		var page struct {
			Devices []device
			Total   int
		}
		if err := g.call(ctx, http.MethodGet, fmt.Sprintf("/api/v1/devices?limit=500&offset=%d", len(all)), http.StatusOK, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Devices...)
		if len(page.Devices) == 0 || len(all) >= page.Total {
			return all, nil
		}
	}
}
