package whatsmeow

import (
	"context"
	"fmt"
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

// A full queue makes a message wait fullWait and then drops it; state changes always
// get in; order is kept.
func TestQueueBackPressure(t *testing.T) {
	q := newQueue(2, 50*time.Millisecond)
	if !q.pushMessage(msgEvent("1")) || !q.pushMessage(msgEvent("2")) {
		t.Fatal("messages refused below the limit")
	}
	start := time.Now()
	if q.pushMessage(msgEvent("3")) {
		t.Fatal("a message got into a full queue")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("dropped after %v, want a wait of 50 ms first", d)
	}
	for range 100 {
		q.pushState(device.SessionConnected{})
	}
	items, ok := q.take()
	if !ok || len(items) != 102 || items[0].msg.Info.ID != "1" || items[1].msg.Info.ID != "2" || items[2].ev == nil {
		t.Fatalf("took %d items (%v)", len(items), ok)
	}
	// A slot freed while a message waits lets it in.
	done := make(chan bool)
	go func() { done <- q.pushMessage(msgEvent("4")) }()
	q.done(items[0])
	if !<-done {
		t.Fatal("the waiting message was dropped although a slot was freed")
	}
	q.close()
	q.done(items[1])
	if q.pushMessage(msgEvent("5")) || len(q.slots) != 1 {
		t.Fatalf("a closed queue took a message (slots %d)", len(q.slots))
	}
	q.pushState(device.SessionConnected{})
	items, ok = q.take()
	if !ok || len(items) != 1 || items[0].msg.Info.ID != "4" {
		t.Fatalf("after close: %d items, %v", len(items), ok)
	}
	if _, ok := q.take(); ok {
		t.Fatal("a closed, empty queue still gives items")
	}
}

func TestQueueTakeWaits(t *testing.T) {
	q := newQueue(1, time.Millisecond)
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
	if cfg.QRFirstTimeout != 60*time.Second || cfg.QRNextTimeout != 20*time.Second || cfg.QueueSize != 256 || cfg.LibraryLogLevel != "warn" {
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
		"revoke":          {msg(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}, chat), false},
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

func TestKeptMessagesPruneAndDelete(t *testing.T) {
	db, _ := dbtestSQLite(t)
	var at time.Time
	s := messages{db: db, now: func() time.Time { return at }}
	ctx := context.Background()
	a, b := newID(), newID()
	jid := types.NewJID("15550001111", types.DefaultUserServer)
	now := time.Now()
	for i, row := range []struct {
		dev device.ID
		at  time.Time
	}{{a, now.Add(-48 * time.Hour)}, {a, now}, {b, now}} {
		at = row.at
		if err := s.put(ctx, row.dev, fmt.Sprintf("M%d", i), jid, jid, false, &waE2E.Message{Conversation: proto.String("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.prune(ctx, now.Add(-24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if k, err := s.first(ctx, a, "M0", nil); err != nil || k != nil {
		t.Fatalf("pruned message still there: %+v, %v", k, err)
	}
	if err := s.deleteDevice(ctx, a); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.first(ctx, a, "M1", nil); k != nil {
		t.Fatal("deleteDevice left a message")
	}
	if k, _ := s.first(ctx, b, "M2", nil); k == nil || k.Message.GetConversation() != "x" {
		t.Fatalf("another device's message: %+v", k)
	}
}
