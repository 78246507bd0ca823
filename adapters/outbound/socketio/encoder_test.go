package socketio

import (
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// The gateway's encoder must write exactly what socket.io's would, and leave it every
// packet it does not encode itself.
func TestEncoderWritesWhatSocketIOWould(t *testing.T) {
	t.Parallel()
	payload := rawJSON{[]byte(`{"eventId":"42","deviceId":"d","text":"h\u00e9llo \"quoted\" \u003ctag\u003e","n":[1,2.5,null]}`)}
	id := uint64(7)
	for _, tc := range []struct {
		name   string
		packet parser.Packet
		raw    bool // encoded by the gateway's encoder, not socket.io's
	}{
		{"device namespace", parser.Packet{Type: parser.EVENT, Nsp: "/device/x", Data: []any{"message", payload}}, true},
		{"root namespace", parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"qr", payload}}, true},
		{"with an offset", parser.Packet{Type: parser.EVENT, Nsp: "/device/x", Data: []any{"message", payload, "42"}}, true},
		{"a map", parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"state", map[string]any{"status": "ready"}}}, false},
		{"a name to escape", parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"a<b", payload}}, false},
		{"an acknowledgement id", parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"message", payload}, Id: &id}, false},
		{"a connect", parser.Packet{Type: parser.CONNECT, Nsp: "/device/x", Data: map[string]any{"sid": "s"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := parser.NewEncoder().Encode(&tc.packet)
			got := rawParser{parser.NewParser()}.NewEncoder().Encode(&tc.packet)
			if len(got) != 1 || len(want) != 1 || got[0].String() != want[0].String() {
				t.Fatalf("encoded %q, socket.io encodes %q", got, want)
			}
			if _, raw := encodeRaw(&tc.packet); raw != tc.raw {
				t.Fatalf("encoded by the gateway: %v, want %v", raw, tc.raw)
			}
		})
	}
}
