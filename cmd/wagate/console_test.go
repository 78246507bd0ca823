package main

import (
	"net"
	"testing"
)

// The listening log line names the console's address as a browser on the host opens it.
func TestConsoleURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:3000":   "http://localhost:3000/console",
		"[::]:3000":      "http://localhost:3000/console",
		"127.0.0.1:8080": "http://127.0.0.1:8080/console",
		"[::1]:3000":     "http://[::1]:3000/console",
		"10.1.2.3:443":   "http://10.1.2.3:443/console",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleURL(tcp); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}
