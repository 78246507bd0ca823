package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/wagate/wagate/bootstrap"
)

// version prints the module version, the commit and its time, from what the Go
// toolchain records in the binary.
func version(stdout io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("no build information in this binary")
	}
	printVersion(stdout, info)
	return nil
}

// printVersion says what info records. The Go toolchain records the commit only when it
// builds in a git checkout with -buildvcs (make build passes it; a git worktree is not
// recognised); the time is the commit's, which a build from a clean checkout shares.
func printVersion(stdout io.Writer, info *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	commit := settings["vcs.revision"]
	switch {
	case commit == "":
		commit = "unknown (not recorded at build time)"
	case settings["vcs.modified"] == "true":
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(stdout, "wagate %s\ncommit   %s\n", info.Main.Version, commit)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(stdout, "time     %s\n", t)
	}
	fmt.Fprintf(stdout, "go       %s\n", info.GoVersion)
}

// listDevices prints every device the key sees: id, name, status, phone number.
func listDevices(ctx context.Context, cfg bootstrap.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	dial := gatewayFlags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := dial()
	if err != nil {
		return err
	}
	devices, err := g.devices(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSTATUS\tPHONE")
	for _, d := range devices {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Status, orDash(d.PhoneNumber))
	}
	return w.Flush()
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// pollEvery is how often qr asks the gateway for the device's code: codes change every
// 20 s at the earliest.
const pollEvery = 500 * time.Millisecond

// showQR prints the device's QR code on the terminal, and a new one each time WhatsApp
// sends one, until the device is linked, pairing stops, or -timeout passes. A device
// that is not pairing (created, stopped, logged out) is connected first.
func showQR(ctx context.Context, cfg bootstrap.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	dial := gatewayFlags(fs, cfg)
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	invert := fs.Bool("invert", false, "for terminals with dark text on a light background")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: wagate qr [-url URL] [-timeout 3m] [-invert] <device id>")
	}
	id := fs.Arg(0)
	g, err := dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	d, err := g.device(ctx, id)
	if err != nil {
		return err
	}
	switch d.Status {
	case "ready":
		return fmt.Errorf("device %s is linked already (%s): log it out first to link another phone", id, orDash(d.PhoneNumber))
	case "created", "disconnected", "logged_out", "failed":
		if err := g.call(ctx, http.MethodPost, "/api/v1/devices/"+url.PathEscape(id)+"/connect", http.StatusAccepted, nil); err != nil {
			return err
		}
	}
	redraw := bootstrap.IsTerminal(stdout)
	shown := ""
	for {
		var qr struct{ QR string }
		err := g.call(ctx, http.MethodGet, "/api/v1/devices/"+url.PathEscape(id)+"/qr", http.StatusOK, &qr)
		switch {
		case err == nil && qr.QR != shown:
			shown = qr.QR
			if redraw {
				fmt.Fprint(stdout, "\x1b[H\x1b[2J") // redraw in place rather than scroll
			}
			fmt.Fprintf(stdout, "Scan with WhatsApp on the phone: Settings → Linked devices → Link a device.\n\n%s\n",
				halfBlocks(shown, !*invert))
		case err != nil && !isStatus(err, http.StatusNotFound) && !isStatus(err, http.StatusConflict):
			return err // 404: between two codes; 409: not pairing (any more), told below
		}
		if d, err = g.device(ctx, id); err != nil {
			return err
		}
		switch d.Status {
		case "ready":
			fmt.Fprintf(stdout, "Linked: device %s is ready (%s).\n", id, orDash(d.PhoneNumber))
			return nil
		case "disconnected", "logged_out", "failed":
			return fmt.Errorf("device %s stopped pairing: %s (%s); run wagate qr again", id, d.Status, orDash(d.LastDisconnectReason))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("device %s is not linked after %s (it is %s)", id, *timeout, d.Status)
		case <-time.After(pollEvery):
		}
	}
}
