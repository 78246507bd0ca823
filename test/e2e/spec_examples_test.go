package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/bootstrap"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// playFlow takes a device through the events of the contract, waiting after each step
// for the example client to print the line that shows it arrived.
func playFlow(t *testing.T, g gateway, p *process, id string, waitFor func(marker string)) {
	t.Helper()
	g.connect(id)
	waitFor("QR Code received:")
	if _, err := g.WhatsApp.Scan(device.ID(id), "15551234567", "Ann"); err != nil {
		t.Fatal(err)
	}
	waitFor("Device authenticated:")
	waitFor("Device ready:")
	if err := g.WhatsApp.Deliver(device.ID(id), message.Message{ID: "M1", Type: message.TypeText, Text: "hi", Timestamp: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitFor("Message received:")
	if err := g.WhatsApp.Drop(device.ID(id), device.ReasonConnectionLost, false); err != nil {
		t.Fatal(err)
	}
	waitFor("Device disconnected:")
}

// markers returns a function that waits until the client has printed the marker once
// more than it was waited for before. Order is not checked, and lines are not either:
// python-socketio runs each handler in a thread of its own, so its prints may come out of
// order or run into each other (the harness tests check the order where clients keep it).
func markers(p *process) func(string) {
	waited := map[string]int{}
	return func(marker string) {
		p.t.Helper()
		waited[marker]++
		for strings.Count(strings.Join(p.seen, "\n"), marker) < waited[marker] {
			p.waitLine(10*time.Second, marker, func(string) bool { return true })
		}
	}
}

// TestJavaScriptSpecExample runs the contract's JavaScript example as a user would paste
// it, with a real device id and key.
func TestJavaScriptSpecExample(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Spec JS")
	p := example(t, g.base, id, apiKey, "js", "spec-example.mjs")
	wait := markers(p)
	wait("Connected to device namespace:")
	wait("Device state changed:")
	wait("created")
	playFlow(t, g, p, id, wait)
}

// TestPythonSpecExampleAsWritten shows what the contract's Python example does as
// written: python-socketio ignores the URL path, so it joins the root namespace and
// hears every device.
func TestPythonSpecExampleAsWritten(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Spec Python")
	p := example(t, g.base, id, apiKey, "python", "spec_example.py")
	wait := markers(p)
	wait("Connected to device namespace")
	other := g.createDevice("Another")
	g.connect(other)
	wait(other) // the root namespace carries every device's events
	playFlow(t, g, p, id, wait)
}

// TestPythonSpecExampleCorrected runs the example with the namespace arguments the README
// documents: it then hears its device only, starting with its current state.
func TestPythonSpecExampleCorrected(t *testing.T) {
	checkClients(t)
	t.Parallel()
	g := startGateway(t, bootstrap.Config{APIKey: apiKey})
	id := g.createDevice("Spec Python")
	p := example(t, g.base, id, apiKey, "python", "spec_example_device.py")
	wait := markers(p)
	wait("Connected to device namespace")
	wait("'status': 'created'")
	other := g.createDevice("Another")
	g.connect(other)
	playFlow(t, g, p, id, wait)
	p.stop()
	for _, line := range p.seen {
		if strings.Contains(line, other) {
			t.Fatalf("heard another device: %s", line)
		}
	}
}
