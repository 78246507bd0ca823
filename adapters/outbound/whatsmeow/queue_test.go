package whatsmeow

import (
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wagate/wagate/domain/device"
)

func msgEvent(id string) *events.Message {
	return &events.Message{Info: types.MessageInfo{ID: id}}
}

// The queue hands messages and state changes over in the order they came, one at a
// time, from a goroutine that runs only while there is news; a closed queue takes nothing
// more (the message's handOver then gives up: no ack) but hands over what it holds.
func TestQueueOrderAndClose(t *testing.T) {
	var (
		running sync.WaitGroup
		mu      sync.Mutex
		handed  []queued
	)
	release := make(chan struct{})
	q := newQueue(func(it queued) {
		<-release // the first item holds the goroutine: the others queue up behind it
		mu.Lock()
		handed = append(handed, it)
		mu.Unlock()
	}, &running)
	done := make(chan error, 1)
	q.pushState(device.SessionConnected{})
	if !q.pushMessage(msgEvent("1"), done) {
		t.Fatal("an open queue refused a message")
	}
	q.pushState(device.SessionProfile{PushName: "x"})
	if !q.pushMessage(msgEvent("2"), done) {
		t.Fatal("an open queue refused a message")
	}
	q.close()
	if q.pushMessage(msgEvent("3"), done) {
		t.Fatal("a closed queue took a message")
	}
	q.pushState(device.SessionConnected{}) // ignored
	close(release)
	running.Wait()
	if len(handed) != 4 || handed[0].ev == nil || handed[1].msg.Info.ID != "1" || handed[1].done == nil ||
		handed[2].ev == nil || handed[3].msg.Info.ID != "2" {
		t.Fatalf("handed over %+v", handed)
	}
}

// An idle queue keeps no goroutine: one runs while there is news, and a new one starts
// with the next news.
func TestQueueDrainsAndStops(t *testing.T) {
	var running sync.WaitGroup
	got := make(chan queued, 2)
	q := newQueue(func(it queued) { got <- it }, &running)
	for _, code := range []string{"a", "b"} {
		q.pushState(device.SessionQR{Code: code})
		if it := <-got; it.ev.(device.SessionQR).Code != code {
			t.Fatalf("handed over %+v, want QR %s", it, code)
		}
		running.Wait() // returns only once the goroutine has ended
		q.mu.Lock()
		draining := q.draining
		q.mu.Unlock()
		if draining {
			t.Fatal("the queue is empty and still marked draining")
		}
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
	target := &waCommon.MessageKey{ID: proto.String("T")}
	for name, c := range map[string]struct {
		evt  *events.Message
		want bool
	}{
		"text":            {msg(&waE2E.Message{Conversation: proto.String("hi")}, chat), true},
		"poll (unknown)":  {msg(&waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{}}, chat), true},
		"revoke":          {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: target}}, chat), true},
		"edit":            {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: target}}, chat), true},
		"untyped, no key": {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{}}, chat), false},
		"edit, no target": {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum()}}, chat), false},
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

// A full queue holds its producer in waitRoom until the goroutine handing items over
// takes what waits, or the session stops.
func TestQueueWaitRoom(t *testing.T) {
	gate := make(chan struct{})
	var running sync.WaitGroup
	q := newQueue(func(queued) { <-gate }, &running)
	defer running.Wait()
	defer close(gate)
	q.pushState(device.SessionReceipt{}) // taken at once; its hand-over waits at the gate
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		q.mu.Lock()
		taken := len(q.items) == 0
		q.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first item was not taken")
		}
	}
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
	gate <- struct{}{} // the first is handed over: the rest are taken
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
