package socketio

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/message"
)

func TestPayloads(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := device.Header{DeviceID: "0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f", At: at}
	head := `"deviceId":"0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f"`
	ts := `"timestamp":1795694400000`
	for _, tc := range []struct {
		event device.Event
		want  string
	}{
		{device.QR{Header: h, Code: "2@abc", ExpiresAt: at.Add(time.Minute)}, `{` + head + `,"qr":"2@abc",` + ts + `}`},
		{device.Authenticated{Header: h, PhoneNumber: "1555", ClientName: "Ann"}, `{"clientName":"Ann",` + head + `,"phoneNumber":"1555",` + ts + `}`},
		{device.Ready{Header: h, PhoneNumber: "1555"}, `{` + head + `,"phoneNumber":"1555",` + ts + `}`},
		{device.Ready{Header: h}, `{` + head + `,` + ts + `}`},
		{device.StateChanged{Header: h, Status: device.StatusPairing}, `{` + head + `,"status":"pairing",` + ts + `}`},
		{device.Disconnected{Header: h, Reason: device.ReasonQRTimeout}, `{` + head + `,"reason":"qr_timeout",` + ts + `}`},
	} {
		b, err := json.Marshal(payload(tc.event))
		if err != nil || string(b) != tc.want {
			t.Errorf("%s payload\n got %s\nwant %s", tc.event.Name(), b, tc.want)
		}
	}
}

func TestMessagePayload(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := message.Message{
		ID: "3EB0", Chat: "15559876543@s.whatsapp.net", PushName: "Bob", Type: message.TypeDocument,
		Sender:  message.Sender{JID: "123@lid", PhoneNumber: "15559876543", LID: "123@lid"},
		Caption: "report", Media: &message.Media{MimeType: "application/pdf", Size: 1234, FileName: "r.pdf"},
		QuotedID: "3EA9", Timestamp: at,
	}
	b, _ := json.Marshal(payload(device.NewMessageReceived("0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f", m, at)))
	want := `{"deviceId":"0192f1c2-7a4b-7c3d-8e5f-0a1b2c3d4e5f","message":{"caption":"report","chat":"15559876543@s.whatsapp.net",` +
		`"contact":null,"fromMe":false,"id":"3EB0","isGroup":false,"location":null,` +
		`"media":{"fileName":"r.pdf","mimetype":"application/pdf","size":1234},"mentions":[],"pushName":"Bob","quotedId":"3EA9",` +
		`"reaction":null,"sender":{"jid":"123@lid","lid":"123@lid","phoneNumber":"15559876543"},"text":null,` +
		`"timestamp":1795694400000,"type":"document"},"timestamp":1795694400000}`
	if string(b) != want {
		t.Fatalf("message payload\n got %s\nwant %s", b, want)
	}
}
