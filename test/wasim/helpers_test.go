package wasim_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate/wagate/test/wasim"
)

// Set WASIM_TEST_LOG=1 to see the simulator's and the clients' logs.
var verbose = os.Getenv("WASIM_TEST_LOG") != ""

// waitTimeout is generous: the race detector on a shared 2-core machine
// slows everything down, and a wait returns as soon as its event arrives.
const waitTimeout = 60 * time.Second

func startServer(t testing.TB) *wasim.Server {
	t.Helper()
	opts := wasim.Options{StreamErrorGrace: 500 * time.Millisecond}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return wasim.Start(t, opts)
}

// testClient is a bare whatsmeow client on its own SQLite store, with every
// event it dispatches recorded for the test to wait on.
type testClient struct {
	*recorder
	cli       *whatsmeow.Client
	container *sqlstore.Container
	dbPath    string
}

// newClient opens (or creates) the whatsmeow store at dbPath ("" for a new
// temporary one) and a client on its first device, pointed at srv.
func newClient(t testing.TB, srv *wasim.Server, dbPath string) *testClient {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "whatsmeow.db")
	}
	ctx := context.Background()
	var dbLog waLog.Logger
	if verbose {
		dbLog = waLog.Stdout("DB", "INFO", false)
	}
	// synchronous(OFF): test databases need no durability, and fsyncs dominate
	// the cost of pairing (whatsmeow stores 812 prekeys).
	container, err := sqlstore.New(ctx, "sqlite", "file:"+dbPath+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)", dbLog)
	if err != nil {
		t.Fatalf("sqlstore: %v", err)
	}
	device, err := container.GetFirstDevice(ctx)
	if err != nil {
		t.Fatalf("get device: %v", err)
	}
	log := waLog.Noop
	if verbose {
		log = waLog.Stdout(filepath.Base(filepath.Dir(dbPath)), "DEBUG", false)
	}
	cli := whatsmeow.NewClient(device, log)
	if err := wasim.ConfigureClient(cli, srv.URL()); err != nil {
		t.Fatal(err)
	}
	tc := &testClient{recorder: newRecorder(), cli: cli, container: container, dbPath: dbPath}
	cli.AddEventHandler(tc.record)
	t.Cleanup(func() {
		cli.Disconnect()
		_ = container.Close()
	})
	return tc
}

// recorder keeps every event in order; waits consume them.
type recorder struct {
	mu     sync.Mutex
	events []any
	pos    int
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) record(evt any) {
	r.mu.Lock()
	r.events = append(r.events, evt)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// next returns the next recorded event matching match, skipping the others.
func (r *recorder) next(t testing.TB, what string, match func(any) bool) any {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		for r.pos < len(r.events) {
			evt := r.events[r.pos]
			r.pos++
			if match(evt) {
				r.mu.Unlock()
				return evt
			}
		}
		seen := fmt.Sprintf("%T", r.events)
		if n := len(r.events); n > 0 {
			seen = ""
			for _, e := range r.events[max(0, n-8):] {
				seen += fmt.Sprintf(" %T", e)
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s; last events:%s", waitTimeout, what, seen)
		}
	}
}

// waitFor returns the next event of type T.
func waitFor[T any](t testing.TB, r *recorder) T {
	t.Helper()
	var zero T
	evt := r.next(t, fmt.Sprintf("%T", zero), func(e any) bool { _, ok := e.(T); return ok })
	return evt.(T)
}

// waitForQR connects an unpaired client and returns its first QR code.
func (tc *testClient) connectForQR(t testing.TB) string {
	t.Helper()
	if err := tc.cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	qr := waitFor[*events.QR](t, tc.recorder)
	if len(qr.Codes) != 6 {
		t.Fatalf("got %d QR codes, want 6", len(qr.Codes))
	}
	return qr.Codes[0]
}

// pairQR links a fresh client to phone by QR code and waits for Connected.
func pairQR(t testing.TB, srv *wasim.Server, phone string) *testClient {
	t.Helper()
	tc := newClient(t, srv, "")
	code := tc.connectForQR(t)
	if _, err := srv.Scan(context.Background(), wasim.ScanRequest{QR: code, PhoneNumber: phone, PushName: "Owner " + phone}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	waitFor[*events.PairSuccess](t, tc.recorder)
	waitFor[*events.Connected](t, tc.recorder)
	return tc
}

// closedOnBothEnds waits until the simulator has dropped the connection and
// the client has seen it drop: Connect on a client whose read loop has not yet
// noticed the close fails with "websocket is already connected".
func (tc *testClient) closedOnBothEnds(t testing.TB, srv *wasim.Server, what string) {
	t.Helper()
	eventually(t, what, func() bool { return srv.Stats().Connections == 0 && !tc.cli.IsConnected() })
}

// eventually polls cond, for state the simulator updates asynchronously
// (a closed connection is counted when the server notices the close).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
