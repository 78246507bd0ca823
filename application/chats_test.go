package application_test

import (
	"slices"
	"testing"

	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// Receipts and undecryptable messages are logged and published without changing the
// device; an undecryptable message is not kept, so the real one that follows with its
// id is.
func TestReceiptsAndUndecryptable(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	id := device.ID(d.ID)
	for _, ev := range []device.SessionEvent{
		device.SessionReceipt{Update: message.StatusUpdate{Status: message.StatusDelivered, MessageIDs: []string{"out1"}}},
		device.SessionUndecryptable{Message: message.Message{ID: "m1", Chat: "1555@s.whatsapp.net", Type: message.TypeUndecryptable}},
		incoming("m1", "1555@s.whatsapp.net"),
	} {
		if err := f.app.Commands.Sessions.HandleSession(ctx, id, ev); err != nil {
			t.Fatal(err)
		}
	}
	f.flush(t)
	if got := names(f.logged(t), d.ID); !slices.Equal(got, []string{"receipt", "message", "message"}) {
		t.Fatalf("logged %v", got)
	}
	if got := f.names(d.ID); !slices.Equal(got, []string{"receipt", "message", "message"}) {
		t.Fatalf("published %v", got)
	}
	if s := f.status(t, d.ID); s != "created" {
		t.Fatalf("status %s after a receipt", s)
	}
	h, err := f.app.Queries.ListMessages.Handle(ctx, application.ListMessages{Device: d.ID})
	if err != nil || len(h.Messages) != 1 {
		t.Fatalf("history %d messages, %v; want the real one only", len(h.Messages), err)
	}
}

// Marking a group read sends one receipt per sender, for the messages others sent.
func TestMarkGroupRead(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "Phone")
	id := device.ID(d.ID)
	if _, err := f.app.Commands.ConnectDevice.Handle(ctx, application.ConnectDevice{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, d.ID, "qr")
	if _, err := f.wa.Scan(id, "15551234567", "Ann"); err != nil {
		t.Fatal(err)
	}
	const group = "120363@g.us"
	for _, m := range []message.Message{
		{ID: "a1", Sender: message.Sender{JID: "1@s.whatsapp.net"}},
		{ID: "b1", Sender: message.Sender{JID: "2@s.whatsapp.net"}},
		{ID: "me", Sender: message.Sender{JID: "15551234567@s.whatsapp.net"}, FromMe: true},
		{ID: "a2", Sender: message.Sender{JID: "1@s.whatsapp.net"}},
	} {
		m.Chat, m.IsGroup, m.Type = group, true, message.TypeText
		if err := f.wa.Deliver(id, m); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := f.app.Commands.MarkRead.Handle(ctx, application.MarkRead{DeviceID: d.ID, Chat: group})
	if err != nil || !slices.Equal(ids, []string{"a2", "a1", "b1"}) {
		t.Fatalf("marked %v, %v", ids, err)
	}
	if got := f.wa.Actions(id); !slices.Equal(got, []string{"read " + group + " a2,a1", "read " + group + " b1"}) {
		t.Fatalf("receipts %q", got)
	}
}
