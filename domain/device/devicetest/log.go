package devicetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// Store is what shares one event log: the device repository and the message store.
type Store struct {
	Devices  device.Repository
	Messages device.Messages
	Log      device.EventLog
}

// RunLogContract runs the contract of the event log and the message store against the
// stores newStore makes, which must be empty each time.
func RunLogContract(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	received := func(id device.ID, msgID, chat string, at time.Time) device.MessageReceived {
		return device.NewMessageReceived(id, message.Message{ID: msgID, Chat: chat, Sender: message.Sender{JID: chat}, Type: message.TypeText, Text: "hi " + msgID, Timestamp: at}, at)
	}

	t.Run("changes append their events in order, numbered from 1", func(t *testing.T) {
		s := newStore(t)
		a, b := mustNew(t, "A", t0), mustNew(t, "B", t0)
		must(t, s.Devices.Create(ctx, a))
		must(t, s.Devices.Create(ctx, b))
		if last, err := s.Log.Last(ctx); err != nil || last != 0 {
			t.Fatalf("Last of an empty log = %v, %v", last, err)
		}
		_, err := s.Devices.Update(ctx, a.ID(), func(d *device.Device) error { return d.Connect(t0) })
		must(t, err)
		_, err = s.Devices.Update(ctx, b.ID(), func(d *device.Device) error { return d.Connect(t0) })
		must(t, err)
		_, err = s.Devices.Update(ctx, a.ID(), func(d *device.Device) error { return d.ShowQR("2@qr", t0.Add(time.Minute), t0) })
		must(t, err)

		all, err := s.Log.Read(ctx, device.LogQuery{Limit: 10})
		must(t, err)
		// Connect: state connecting; ShowQR: state pairing, then qr.
		want := []struct {
			id   device.EventID
			dev  device.ID
			name string
		}{{1, a.ID(), "state"}, {2, b.ID(), "state"}, {3, a.ID(), "state"}, {4, a.ID(), "qr"}}
		if len(all) != len(want) {
			t.Fatalf("log holds %d events, want %d: %+v", len(all), len(want), all)
		}
		for i, w := range want {
			r := all[i]
			if r.ID != w.id || r.DeviceID != w.dev || r.Name != w.name {
				t.Fatalf("event %d = %d %s %s, want %d %s %s", i, r.ID, r.DeviceID, r.Name, w.id, w.dev, w.name)
			}
			var p map[string]any
			must(t, json.Unmarshal(r.Payload, &p))
			if p["eventId"] != w.id.String() || p["deviceId"] != w.dev.String() {
				t.Fatalf("payload of event %d = %s", w.id, r.Payload)
			}
		}
		if last, err := s.Log.Last(ctx); err != nil || last != 4 {
			t.Fatalf("Last = %v, %v; want 4", last, err)
		}
		onlyA, err := s.Log.Read(ctx, device.LogQuery{After: 1, Devices: []device.ID{a.ID()}, Limit: 1})
		must(t, err)
		if len(onlyA) != 1 || onlyA[0].ID != 3 {
			t.Fatalf("A's first event after 1 = %+v, want id 3", onlyA)
		}
		none, err := s.Log.Read(ctx, device.LogQuery{After: 4, Limit: 10})
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("events after the last: %+v", none)
		}
	})

	t.Run("a refused change appends nothing", func(t *testing.T) {
		s := newStore(t)
		d := mustNew(t, "A", t0)
		must(t, s.Devices.Create(ctx, d))
		_, err := s.Devices.Update(ctx, d.ID(), func(d *device.Device) error { return d.Disconnect(t0) })
		if err == nil {
			t.Fatal("disconnecting a new device was accepted")
		}
		if last, _ := s.Log.Last(ctx); last != 0 {
			t.Fatalf("a refused change appended events: last = %d", last)
		}
	})

	t.Run("a message is kept once and makes one event", func(t *testing.T) {
		s := newStore(t)
		d := mustNew(t, "A", t0)
		must(t, s.Devices.Create(ctx, d))
		m := received(d.ID(), "M1", "1555@s.whatsapp.net", t0)
		for i, want := range []bool{true, false} {
			added, err := s.Messages.Receive(ctx, m, []byte("raw"))
			must(t, err)
			if added != want {
				t.Fatalf("delivery %d: added = %v, want %v", i+1, added, want)
			}
		}
		// Another sender may use the same id: that is another message.
		other := received(d.ID(), "M1", "1666@s.whatsapp.net", t0)
		if added, err := s.Messages.Receive(ctx, other, nil); err != nil || !added {
			t.Fatalf("same id from another chat: added = %v, %v", added, err)
		}
		recs, err := s.Log.Read(ctx, device.LogQuery{Limit: 10})
		must(t, err)
		if len(recs) != 2 || recs[0].Name != "message" || recs[1].Name != "message" {
			t.Fatalf("log = %+v, want two message events", recs)
		}
		found, err := s.Messages.Find(ctx, d.ID(), device.MessageQuery{ID: "M1", Chats: []string{"1555@s.whatsapp.net"}, Limit: 5})
		must(t, err)
		if len(found) != 1 || string(found[0].Raw) != "raw" || found[0].Message.Sender.JID != "1555@s.whatsapp.net" {
			t.Fatalf("Find = %+v", found)
		}
	})

	t.Run("history pages newest first, by chat", func(t *testing.T) {
		s := newStore(t)
		d := mustNew(t, "A", t0)
		must(t, s.Devices.Create(ctx, d))
		for i, id := range []string{"M1", "M2", "M3", "M4", "M5"} {
			chat := "1555@s.whatsapp.net"
			if i%2 == 1 {
				chat = "1666@s.whatsapp.net"
			}
			_, err := s.Messages.Receive(ctx, received(d.ID(), id, chat, t0.Add(time.Duration(i)*time.Second)), nil)
			must(t, err)
		}
		var ids []string
		before := ""
		for range 5 {
			h, err := s.Messages.History(ctx, d.ID(), device.HistoryQuery{Chat: "1555@s.whatsapp.net", Before: before, Limit: 2})
			must(t, err)
			for _, m := range h.Messages {
				var p struct{ ID string }
				must(t, json.Unmarshal(m, &p))
				ids = append(ids, p.ID)
			}
			if before = h.Next; before == "" {
				break
			}
		}
		if !slices.Equal(ids, []string{"M5", "M3", "M1"}) {
			t.Fatalf("history of the chat = %v, want M5 M3 M1", ids)
		}
	})

	t.Run("deleting a live device appends its last event and forgets its messages", func(t *testing.T) {
		s := newStore(t)
		d := mustNew(t, "A", t0)
		must(t, d.Connect(t0))
		d.PullEvents()
		must(t, s.Devices.Create(ctx, d))
		_, err := s.Messages.Receive(ctx, received(d.ID(), "M1", "1555@s.whatsapp.net", t0), nil)
		must(t, err)
		must(t, s.Devices.Delete(ctx, d.ID(), func(d *device.Device) error { d.Remove(t0); return nil }))
		recs, err := s.Log.Read(ctx, device.LogQuery{Limit: 10})
		must(t, err)
		if len(recs) != 2 || recs[1].Name != "disconnected" {
			t.Fatalf("log = %+v, want message then disconnected", recs)
		}
		found, err := s.Messages.Find(ctx, d.ID(), device.MessageQuery{ID: "M1", Limit: 5})
		must(t, err)
		if len(found) != 0 {
			t.Fatalf("messages of a deleted device remain: %+v", found)
		}
	})

	t.Run("prune deletes the oldest, at most limit, and keeps the numbering", func(t *testing.T) {
		s := newStore(t)
		d := mustNew(t, "A", t0)
		must(t, s.Devices.Create(ctx, d))
		for i := range 5 {
			_, err := s.Messages.Receive(ctx, received(d.ID(), "M"+string(rune('1'+i)), "1555@s.whatsapp.net", t0.Add(time.Duration(i)*time.Hour)), nil)
			must(t, err)
		}
		n, err := s.Log.Prune(ctx, t0.Add(3*time.Hour), 2)
		must(t, err)
		if n != 2 {
			t.Fatalf("pruned %d, want 2 (the limit)", n)
		}
		n, err = s.Log.Prune(ctx, t0.Add(3*time.Hour), 10)
		must(t, err)
		if n != 1 {
			t.Fatalf("pruned %d, want the 1 left older than the cutoff", n)
		}
		recs, err := s.Log.Read(ctx, device.LogQuery{Limit: 10})
		must(t, err)
		if len(recs) != 2 || recs[0].ID != 4 {
			t.Fatalf("left %+v, want ids 4 and 5", recs)
		}
		if last, _ := s.Log.Last(ctx); last != 5 {
			t.Fatalf("Last after pruning = %d, want 5", last)
		}
	})
}
