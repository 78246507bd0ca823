package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
)

// TestLinkFlow drives the gateway, wired with in-memory outbound adapters, through a
// device's whole life: create, connect, QR, scan, ready, logout, delete.
func TestLinkFlow(t *testing.T) {
	t.Parallel()
	gw, err := bootstrap.BuildInMemory(bootstrap.Config{APIKey: apiKey}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, gw.Gateway)
	c := client{t, base}

	var d deviceJSON
	c.call("POST", "/api/v1/devices", `{"name":"Support line"}`, http.StatusCreated, &d)
	c.call("POST", "/api/v1/devices/"+d.ID+"/connect", "", http.StatusAccepted, &d)
	if d.Status != "connecting" {
		t.Fatalf("after connect: %s", d.Status)
	}
	c.waitStatus(d.ID, "pairing")
	if _, err := gw.WhatsApp.QR(device.ID(d.ID)); err != nil {
		t.Fatalf("no QR code shown: %v", err)
	}
	if _, err := gw.WhatsApp.Scan(device.ID(d.ID), "15551234567", "Support"); err != nil {
		t.Fatal(err)
	}
	d = c.waitStatus(d.ID, "ready")
	if d.PhoneNumber == nil || *d.PhoneNumber != "15551234567" || d.LastConnectedAt == nil {
		t.Fatalf("ready device %+v", d)
	}

	var list struct {
		Devices []deviceJSON `json:"devices"`
		Total   int          `json:"total"`
	}
	c.call("GET", "/api/v1/devices?status=ready", "", http.StatusOK, &list)
	if list.Total != 1 || list.Devices[0].ID != d.ID {
		t.Fatalf("ready devices %+v", list)
	}

	c.call("POST", "/api/v1/devices/"+d.ID+"/logout", "", http.StatusOK, &d)
	if d.Status != "logged_out" || d.PhoneNumber != nil {
		t.Fatalf("after logout %+v", d)
	}
	c.call("DELETE", "/api/v1/devices/"+d.ID, "", http.StatusNoContent, nil)
	c.call("GET", "/api/v1/devices/"+d.ID, "", http.StatusNotFound, nil)

	// The feed publishes what the log holds, in order, a moment after each change; the
	// last is the delete's (disconnected, deleted).
	want := "state:connecting state:pairing qr state:authenticated authenticated state:ready ready state:logged_out disconnected disconnected"
	var got string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = gw.Events.Wait(ctx, func(records []device.Record) bool {
		var names []string
		for _, r := range records {
			n := r.Name
			var p struct{ Status string }
			if json.Unmarshal(r.Payload, &p) == nil && p.Status != "" {
				n += ":" + p.Status
			}
			names = append(names, n)
		}
		got = strings.Join(names, " ")
		return got == want
	})
	if err != nil {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
}
