// Command wagate runs the WhatsApp device gateway.
//
//	wagate              serve the REST API and Socket.io gateway (same as "wagate serve")
//	wagate migrate      bring the database schema up to date and exit
//	wagate health       ask the gateway on this host whether it is alive
//	wagate version      print the version, commit and commit time
//	wagate devices      list the running gateway's devices
//	wagate qr <device>  show a device's QR code on the terminal, until it is linked
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wagate/wagate/bootstrap"
)

func main() {
	bootstrap.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wagate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd == "version" { // needs no configuration
		return version(stdout)
	}
	cfg, err := bootstrap.LoadConfig(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := cfg.Logger()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		return bootstrap.Migrate(ctx, cfg, log)
	case "health":
		return health(ctx, cfg)
	case "devices":
		return listDevices(ctx, cfg, args[1:], stdout)
	case "qr":
		return showQR(ctx, cfg, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (%s)", cmd, usage)
}

const usage = "usage: wagate [serve|migrate|health|version|devices|qr <device>]"

func serve(ctx context.Context, cfg bootstrap.Config, log *slog.Logger, stdout io.Writer) error {
	generated, err := cfg.ResolveAPIKey()
	if err != nil {
		return err
	}
	switch {
	case generated:
		announceKey(stdout, log, cfg.APIKeyPath(), cfg.APIKey)
	case cfg.APIKey == "":
		log.Warn("API_KEY is set to an empty string: no API key is configured, so every API and Socket.io call is refused with a configuration error")
	}
	gw, cleanup, err := bootstrap.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cleanup()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	log.Info("wagate listening", "addr", ln.Addr().String(), "database", cfg.DatabaseKind(), "console", consoleURL(ln.Addr()))
	return gw.Serve(ctx, ln)
}

// consoleURL is where a browser on this host opens the web console: localhost when the
// gateway listens on every interface.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "/console"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/console"
}

// health asks the gateway on this host's PORT whether it is alive: a container's health
// check, where no curl is at hand.
func health(ctx context.Context, cfg bootstrap.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/healthz", cfg.Port), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: /healthz answered %s", res.Status)
	}
	return nil
}

// announceKey shows a newly generated key once, and only on a terminal: logs and a
// redirected stdout are often shipped elsewhere (container runtimes collect both), so
// otherwise it only logs where the key is kept.
func announceKey(stdout io.Writer, log *slog.Logger, path, key string) {
	if !bootstrap.IsTerminal(stdout) {
		log.Info("generated an API key: read it from the key file (it is not printed, as stdout is not a terminal)", "file", path)
		return
	}
	fmt.Fprintf(stdout, "\n  wagate generated an API key and saved it in %s:\n\n    %s\n\n"+
		"  Send it as the X-API-Key header (or Authorization: Bearer) to the REST API,\n"+
		"  and as apiKey to Socket.io, or paste it into the web console at /console.\n"+
		"  Set API_KEY to choose your own.\n\n", path, key)
}
