package whatsmeow

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/wagate/wagate/adapters/outbound/database"
	"github.com/wagate/wagate/adapters/outbound/database/dbtest"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
	"github.com/wagate/wagate/test/wasim"
)

// Set WAGATE_TEST_LOG=1 to see the adapter's, whatsmeow's and the simulator's logs.
var verbose = os.Getenv("WAGATE_TEST_LOG") != ""

// waitTimeout is generous: -race on a shared 2-core machine is slow, and waits return as
// soon as what they wait for happens.
const waitTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	// whatsmeow's root key is a package variable: install the simulators' key once, before
	// any test starts a client (wasim.Start would otherwise write it while another test's
	// client reads it).
	if err := wasim.TrustRootKey(wasim.TestRootKey.Public()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startServer(t testing.TB) *wasim.Server {
	t.Helper()
	opts := wasim.Options{StreamErrorGrace: 300 * time.Millisecond}
	if verbose {
		opts.Logger = testLogger()
	}
	return wasim.Start(t, opts)
}

// testConfig points the adapter at srv, with timings short enough for tests.
func testConfig(srv *wasim.Server) Config {
	pub := srv.RootPublicKey()
	cfg := Config{
		ServerURL:    srv.URL(),
		RootKey:      hex.EncodeToString(pub[:]),
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
	}
	if verbose {
		cfg.LibraryLogLevel = "debug"
	}
	return cfg
}

// eachDB runs test on a fresh SQLite and a fresh PostgreSQL database.
func eachDB(t *testing.T, test func(t *testing.T, db *bun.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, _ := dbtest.SQLite(t)
		test(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, dbtest.Postgres(t))
	})
}

func newClient(t testing.TB, db *bun.DB, cfg Config) *Client {
	t.Helper()
	c, err := New(context.Background(), db, database.Exclusively, database.NewStore(db).Messages, cfg, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// recorder is a SessionHandler that keeps what each device reported; waits consume it.
// With msgs it stores received messages as the application does (Receive: a message
// delivered again is not stored again and makes no event), so that the client finds
// them for replies, reactions and downloads; a message it had stored already is not
// recorded again. failing makes it fail on demand, as a handler whose database is down.
type recorder struct {
	msgs   device.Messages // nil: every message is recorded, nothing stored
	mu     sync.Mutex
	events map[device.ID][]device.SessionEvent
	pos    map[device.ID]int
	notify chan struct{}
	calls  map[device.ID]int // HandleSession calls in progress, to catch concurrent calls
	errs   []string
	tries  map[string]int // HandleSession calls per message id
	// inside, when set, runs in the middle of each HandleSession call, outside the lock
	// (the recorder's own test holds a call there).
	inside func()
	// failBefore and failAfter, when set, run before and after a message is stored;
	// an error they return is HandleSession's result (see failing).
	failBefore, failAfter func(device.SessionMessage) error
}

// newRecorder returns a recorder that stores received messages on db (nil: none).
func newRecorder(db *bun.DB) *recorder {
	r := &recorder{
		events: make(map[device.ID][]device.SessionEvent), pos: make(map[device.ID]int),
		calls: make(map[device.ID]int), notify: make(chan struct{}), tries: make(map[string]int),
	}
	if db != nil {
		r.msgs = database.NewStore(db).Messages
	}
	return r
}

// errStore is what a failing recorder returns.
var errStore = errors.New("the test's store is down")

// failing sets the hooks run before and after a message is stored (nil: none).
func (r *recorder) failing(before, after func(device.SessionMessage) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failBefore, r.failAfter = before, after
}

// always fails every message.
func always(device.SessionMessage) error { return errStore }

// attempts returns how often HandleSession was called with the message msgID.
func (r *recorder) attempts(msgID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries[msgID]
}

// HandleSession records ev. A call counts as in progress from its first lock to its
// second, so that a call of the same device in between, which the client must never
// make, is caught.
func (r *recorder) HandleSession(ctx context.Context, id device.ID, ev device.SessionEvent) error {
	r.mu.Lock()
	r.calls[id]++
	if r.calls[id] > 1 {
		r.errs = append(r.errs, fmt.Sprintf("device %s: concurrent HandleSession calls", id))
	}
	inside, before, after := r.inside, r.failBefore, r.failAfter
	m, isMessage := ev.(device.SessionMessage)
	if isMessage {
		r.tries[m.Message.ID]++
	}
	r.mu.Unlock()
	if inside != nil {
		inside()
	} else {
		runtime.Gosched() // a real handler takes a while: let an overlapping call show
	}
	record, err := true, error(nil)
	if isMessage {
		record, err = r.store(ctx, id, m, before, after)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]--
	if record {
		r.events[id] = append(r.events[id], ev)
		close(r.notify)
		r.notify = make(chan struct{})
	}
	return err
}

// store keeps a received message as the application does, between the hooks; record
// tells whether it made an event (it did not when stored before).
func (r *recorder) store(ctx context.Context, id device.ID, m device.SessionMessage, before, after func(device.SessionMessage) error) (record bool, err error) {
	if before != nil {
		if err := before(m); err != nil {
			return false, err
		}
	}
	record = true
	if r.msgs != nil {
		record, err = r.msgs.Receive(ctx, device.NewMessageReceived(id, m.Message, time.Now()), m.Raw)
		if err != nil {
			return false, err
		}
	}
	if after != nil {
		err = after(m)
	}
	return record, err
}

// next returns the device's next event, failing the test after waitTimeout.
func (r *recorder) next(t testing.TB, id device.ID) device.SessionEvent {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if errs := r.errs; len(errs) > 0 {
			r.mu.Unlock()
			t.Fatalf("recorder: %s", strings.Join(errs, "; "))
		}
		if evs := r.events[id]; r.pos[id] < len(evs) {
			ev := evs[r.pos[id]]
			r.pos[id]++
			r.mu.Unlock()
			return ev
		}
		notify := r.notify
		r.mu.Unlock()
		select {
		case <-notify:
		case <-deadline.C:
			t.Fatalf("device %s: no event after %v (seen: %s)", id, waitTimeout, r.describe(id))
		}
	}
}

// pending returns the events not consumed yet, without waiting.
func (r *recorder) pending(id device.ID) []device.SessionEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]device.SessionEvent(nil), r.events[id][r.pos[id]:]...)
}

func (r *recorder) describe(id device.ID) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ev := range r.events[id] {
		fmt.Fprintf(&b, "%T%+v ", ev, ev)
	}
	return b.String()
}

// expect returns the device's next event, which must be a T.
func expect[T device.SessionEvent](t testing.TB, r *recorder, id device.ID) T {
	t.Helper()
	ev := r.next(t, id)
	got, ok := ev.(T)
	if !ok {
		var zero T
		t.Fatalf("device %s: got %T%+v, want %T (all: %s)", id, ev, ev, zero, r.describe(id))
	}
	return got
}

// expectQuiet checks that the device reports nothing more: what is pending now, and
// whatever arrives within settle (used only where nothing is the expected outcome).
func expectQuiet(t testing.TB, r *recorder, id device.ID, settle time.Duration) {
	t.Helper()
	time.Sleep(settle)
	if evs := r.pending(id); len(evs) > 0 {
		t.Fatalf("device %s reported %d unexpected events: %s", id, len(evs), r.describe(id))
	}
}

func newID() device.ID { return device.NewID(time.Now()) }

// pairQR connects a new device, scans its first QR code as phone and waits until it is
// logged in; it returns the link.
func pairQR(t testing.TB, c *Client, srv *wasim.Server, r *recorder, id device.ID, phone string) device.Link {
	t.Helper()
	if err := c.Connect(context.Background(), device.Session{DeviceID: id}, r); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	qr := expect[device.SessionQR](t, r, id)
	if _, err := srv.Scan(context.Background(), wasim.ScanRequest{QR: qr.Code, PhoneNumber: phone, PushName: "Owner"}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	paired := expect[device.SessionPaired](t, r, id)
	expect[device.SessionConnected](t, r, id)
	return paired.Link
}

func wantKind(t testing.TB, err error, kind domain.Kind, what string) {
	t.Helper()
	if domain.KindOf(err) != kind {
		t.Fatalf("%s: error %v (kind %s), want kind %s", what, err, domain.KindOf(err), kind)
	}
	if kind != domain.KindInternal && domain.MessageOf(err) == "" {
		t.Fatalf("%s: error %v has no user-safe message", what, err)
	}
}

// eventually polls cond, for state that changes without an event (the simulator counts a
// closed connection when it notices the close).
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

// storedDevices counts whatsmeow's stored devices with jid ("" for all).
func storedDevices(t testing.TB, db *bun.DB, jid string) int {
	t.Helper()
	q := db.NewSelect().Table("whatsmeow_device")
	if jid != "" {
		q = q.Where("jid = ?", jid)
	}
	n, err := q.Count(context.Background())
	if err != nil {
		t.Fatalf("count whatsmeow devices: %v", err)
	}
	return int(n)
}

func dbtestSQLite(t *testing.T) (*bun.DB, string) { return dbtest.SQLite(t) }

func textTo(to, text string) message.Outgoing { return message.Outgoing{To: to, Text: text} }

// openPostgres opens the PostgreSQL database at url (migrated or not) as the gateway does.
func openPostgres(t testing.TB, url string) *bun.DB {
	t.Helper()
	db, closeDB, err := database.Open(context.Background(), url, "")
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = closeDB() })
	return db
}

// setUp gives a test a simulator, a fresh SQLite database, a Client on both, a recorder
// and the id of a device to run.
func setUp(t *testing.T) (*wasim.Server, *bun.DB, *Client, *recorder, device.ID) {
	t.Helper()
	srv := startServer(t)
	db, _ := dbtestSQLite(t)
	return srv, db, newClient(t, db, testConfig(srv)), newRecorder(db), newID()
}

// countingObserver counts what the sessions tell their Observer.
type countingObserver struct {
	connects, reconnects, received atomic.Int64
	mu                             sync.Mutex
	ends                           map[device.Reason]int
}

func (o *countingObserver) SessionConnected() { o.connects.Add(1) }
func (o *countingObserver) SessionDisconnected(r device.Reason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ends == nil {
		o.ends = map[device.Reason]int{}
	}
	o.ends[r]++
}
func (o *countingObserver) ReconnectAttempt()             { o.reconnects.Add(1) }
func (o *countingObserver) MessageReceived(time.Duration) { o.received.Add(1) }
func (o *countingObserver) disconnects(r device.Reason) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ends[r]
}
