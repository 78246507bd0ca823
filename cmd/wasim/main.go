// Command wasim runs the WhatsApp server simulator (test/wasim) on one port:
// the WhatsApp websocket at /ws/chat, the media host (uploads under /mms/,
// downloads under /v/) and the control API under /control/.
//
//	wasim [-addr 127.0.0.1] [-port 3100] [-root-key HEX] [-log-level info]
//
// Every flag has an environment equivalent: WASIM_ADDR, WASIM_PORT,
// WASIM_ROOT_KEY, WASIM_LOG_LEVEL (flags win). At start it prints, on
// stdout, the two settings a gateway needs:
//
//	WHATSAPP_SERVER_URL=ws://127.0.0.1:3100/ws/chat
//	WHATSAPP_SERVER_ROOT_KEY=<hex public key>
//
// Without -root-key a random root key is generated, so clients must be
// given the new public key on every start; pass the same private key for a
// reproducible one. See test/wasim/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/wagate/wagate/test/wasim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wasim:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(args []string) error {
	fs := flag.NewFlagSet("wasim", flag.ContinueOnError)
	addr := fs.String("addr", envOr("WASIM_ADDR", "127.0.0.1"), "host to listen on (env WASIM_ADDR)")
	portStr := fs.String("port", envOr("WASIM_PORT", "3100"), "port to listen on, 0 for any (env WASIM_PORT)")
	rootKeyHex := fs.String("root-key", os.Getenv("WASIM_ROOT_KEY"), "hex private root key; random if empty (env WASIM_ROOT_KEY)")
	logLevel := fs.String("log-level", envOr("WASIM_LOG_LEVEL", "info"), "debug, info, warn or error (env WASIM_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	port, err := strconv.Atoi(*portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("invalid port %q", *portStr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("invalid log level %q", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	opts := wasim.Options{Logger: log}
	if *rootKeyHex != "" {
		if opts.RootKey, err = wasim.ParseKey(*rootKeyHex); err != nil {
			return err
		}
	}
	srv, err := wasim.New(opts)
	if err != nil {
		return err
	}
	l, err := srv.Listen(net.JoinHostPort(*addr, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	info := srv.Info()
	fmt.Printf("WHATSAPP_SERVER_URL=%s\nWHATSAPP_SERVER_ROOT_KEY=%s\n", info.ServerURL, info.RootKey)
	log.Info("wasim listening", "serverUrl", info.ServerURL, "rootKey", info.RootKey,
		"control", "http://"+l.Addr().String()+"/control/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
		log.Info("shutting down")
		if err := srv.Close(); err != nil {
			return err
		}
		<-errc
		return nil
	}
}
