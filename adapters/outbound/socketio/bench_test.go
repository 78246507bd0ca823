package socketio

import (
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

// BenchmarkMessagePayload measures building and encoding the `message` event, which every
// received message pays once per publish.
func BenchmarkMessagePayload(b *testing.B) {
	m := message.Message{
		ID: "3EB0C767D26A1B2C", Chat: "15559876543@s.whatsapp.net", PushName: "Bob", Type: message.TypeText,
		Sender: message.Sender{JID: "15559876543@s.whatsapp.net", PhoneNumber: "15559876543", LID: "100000000000001@lid"},
		Text:   "hello there, this is a message of ordinary length", Timestamp: time.Now(),
	}
	e := device.NewMessageReceived(testDevice, m, time.Now())
	for b.Loop() {
		encode(b, e)
	}
}
