package whatsmeow

import (
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain/device"
)

func msgEvent(id string) *events.Message {
	return &events.Message{Info: types.MessageInfo{ID: id}}
}

// The queue keeps messages and state changes in the order they came; a closed queue
// takes nothing more (the message's handOver then gives up: no ack) but gives out what it
// holds.
func TestQueueOrderAndClose(t *testing.T) {
	q := newQueue()
	done := make(chan error, 1)
	q.pushState(device.SessionConnected{})
	if !q.pushMessage(msgEvent("1"), done) {
		t.Fatal("an open queue refused a message")
	}
	q.pushState(device.SessionProfile{PushName: "x"})
	items, ok := q.take()
	if !ok || len(items) != 3 || items[0].ev == nil || items[1].msg.Info.ID != "1" || items[1].done == nil || items[2].ev == nil {
		t.Fatalf("took %+v (%v)", items, ok)
	}
	if !q.pushMessage(msgEvent("2"), done) {
		t.Fatal("an open queue refused a message")
	}
	q.close()
	if q.pushMessage(msgEvent("3"), done) {
		t.Fatal("a closed queue took a message")
	}
	q.pushState(device.SessionConnected{}) // ignored
	items, ok = q.take()
	if !ok || len(items) != 1 || items[0].msg.Info.ID != "2" {
		t.Fatalf("after close: %+v, %v", items, ok)
	}
	if _, ok := q.take(); ok {
		t.Fatal("a closed, empty queue still gives items")
	}
}

func TestStoreRetry(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	for attempt, w := range want {
		if d := storeRetry(attempt); d != w {
			t.Errorf("storeRetry(%d) = %v, want %v", attempt, d, w)
		}
	}
	if d := storeRetry(1000); d != 5*time.Second {
		t.Errorf("storeRetry(1000) = %v, want 5s", d)
	}
}

func TestQueueTakeWaits(t *testing.T) {
	q := newQueue()
	got := make(chan []queued)
	go func() {
		items, _ := q.take()
		got <- items
	}()
	q.pushState(device.SessionQR{Code: "x"})
	if items := <-got; len(items) != 1 || items[0].ev.(device.SessionQR).Code != "x" {
		t.Fatalf("took %+v", items)
	}
}

func TestBackoff(t *testing.T) {
	cfg := Config{ReconnectMin: time.Second, ReconnectMax: time.Minute}.withDefaults()
	for failures, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		lo, hi := base/2, base
		seen := map[time.Duration]bool{}
		for range 200 {
			d := cfg.backoff(failures)
			if d < lo || d > hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", failures, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("backoff(%d) has no jitter: %v", failures, seen)
		}
	}
	for _, failures := range []int{6, 7, 30, 64, 1000} {
		if d := cfg.backoff(failures); d < 30*time.Second || d > time.Minute {
			t.Fatalf("backoff(%d) = %v, want capped at 1 min", failures, d)
		}
	}
}

func TestConfig(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.QRFirstTimeout != 60*time.Second || cfg.QRNextTimeout != 20*time.Second || cfg.LibraryLogLevel != "warn" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if hc, err := cfg.serverClient(); hc != nil || err != nil {
		t.Fatalf("no server: %v, %v", hc, err)
	}
	for _, bad := range []Config{
		{ServerURL: "ws://127.0.0.1:1/ws/chat"},
		{RootKey: "00"},
		{ServerURL: "ftp://x", RootKey: "00"},
		{ServerURL: "ws://", RootKey: "00"},
	} {
		if _, err := bad.serverClient(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	for _, bad := range []string{"", "zz", "0011"} {
		if err := installRootKey(bad); err == nil {
			t.Errorf("root key %q accepted", bad)
		}
	}
	if _, err := (Config{LibraryLogLevel: "loud"}).libraryLevel(); err == nil {
		t.Error("log level loud accepted")
	}
}

func TestReportable(t *testing.T) {
	chat := types.NewJID("15550001111", types.DefaultUserServer)
	msg := func(m *waE2E.Message, chat types.JID) *events.Message {
		return &events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: chat}}, Message: m}
	}
	skdm := &waE2E.SenderKeyDistributionMessage{GroupID: proto.String("g")}
	for name, c := range map[string]struct {
		evt  *events.Message
		want bool
	}{
		"text":            {msg(&waE2E.Message{Conversation: proto.String("hi")}, chat), true},
		"poll (unknown)":  {msg(&waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{}}, chat), true},
		"revoke":          {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}, chat), true},
		"edit":            {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum()}}, chat), true},
		"key request":     {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_REQUEST.Enum()}}, chat), false},
		"status":          {msg(&waE2E.Message{Conversation: proto.String("my status")}, types.StatusBroadcastJID), false},
		"bare key share":  {msg(&waE2E.Message{SenderKeyDistributionMessage: skdm}, chat), false},
		"key share, text": {msg(&waE2E.Message{SenderKeyDistributionMessage: skdm, Conversation: proto.String("hi all")}, chat), true},
		"nil":             {msg(nil, chat), false},
	} {
		if got := reportable(c.evt); got != c.want {
			t.Errorf("%s: reportable = %v, want %v", name, got, c.want)
		}
	}
}

// A full queue holds its producer in waitRoom until the worker takes what waits, or
// the session stops.
func TestQueueWaitRoom(t *testing.T) {
	q := newQueue()
	for range maxQueued {
		q.pushState(device.SessionReceipt{})
	}
	waited := make(chan struct{})
	go func() {
		q.waitRoom(nil)
		close(waited)
	}()
	select {
	case <-waited:
		t.Fatal("waitRoom returned with the queue full")
	case <-time.After(50 * time.Millisecond):
	}
	if items, _ := q.take(); len(items) != maxQueued {
		t.Fatalf("took %d", len(items))
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("waitRoom still waits after the queue was emptied")
	}
	for range maxQueued {
		q.pushState(device.SessionReceipt{})
	}
	stop := make(chan struct{})
	close(stop)
	q.waitRoom(stop) // returns at once
	q.close()
	q.waitRoom(nil) // a closed queue makes no one wait
}
