package socketio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gorilla/websocket"
)

// clientFrame is a frame as a client sends it: masked.
func clientFrame(fin bool, opcode byte, payload []byte) []byte {
	first := opcode
	if fin {
		first |= 0x80
	}
	b := appendHeader(nil, 0, len(payload))
	b[0], b[1] = first, b[1]|0x80
	mask := []byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

type handled struct {
	opcode  byte
	payload string
}

func parse(t *testing.T, limit int, chunks ...[]byte) ([]handled, error) {
	t.Helper()
	var p frameParser
	var got []handled
	for _, c := range chunks {
		if err := p.feed(c, limit, func(op byte, payload []byte) error {
			got = append(got, handled{op, string(payload)})
			return nil
		}); err != nil {
			return got, err
		}
	}
	if p.pending != nil || p.message != nil {
		t.Errorf("the parser keeps %d bytes of a frame and %d of a message after whole ones", len(p.pending), len(p.message))
	}
	return got, nil
}

// Fragments with a ping between them, a 16-bit length, fed all at once and in pieces:
// each message whole, in order, the ping when it came.
func TestFramesFragmentedAndInterleaved(t *testing.T) {
	long := bytes.Repeat([]byte("y"), 300)
	var stream []byte
	for _, f := range [][]byte{
		clientFrame(false, websocket.TextMessage, []byte("42[\"a\",")),
		clientFrame(true, websocket.PingMessage, []byte("p")),
		clientFrame(false, 0, []byte("\"b\"")),
		clientFrame(true, 0, []byte("]")),
		clientFrame(true, websocket.BinaryMessage, long),
		clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe8}),
	} {
		stream = append(stream, f...)
	}
	want := []handled{{websocket.PingMessage, "p"}, {websocket.TextMessage, `42["a","b"]`}, {websocket.BinaryMessage, string(long)}, {websocket.CloseMessage, "\x03\xe8"}}

	// Chunks of 7 end frames and start others in the same read.
	var bytewise, sevens [][]byte
	for i := range stream {
		bytewise = append(bytewise, []byte{stream[i]})
	}
	for i := 0; i < len(stream); i += 7 {
		sevens = append(sevens, bytes.Clone(stream[i:min(i+7, len(stream))]))
	}
	for name, chunks := range map[string][][]byte{"at once": {bytes.Clone(stream)}, "byte by byte": bytewise, "in chunks of 7": sevens} {
		got, err := parse(t, 1024, chunks...)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: %v, %d handled, want %d", name, err, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: handled %d: opcode %d %q, want %d %q", name, i, got[i].opcode, got[i].payload, want[i].opcode, want[i].payload)
			}
		}
	}
}

// What a client may not send closes its connection with the code gorilla would send.
func TestFramesRefused(t *testing.T) {
	unmasked := []byte{0x81, 0x02, 'h', 'i'}
	for name, tc := range map[string]struct {
		stream []byte
		want   *closeError
	}{
		"unmasked":                   {unmasked, errProtocol},
		"continuation with no start": {clientFrame(true, 0, []byte("x")), errProtocol},
		"a message inside a message": {append(clientFrame(false, websocket.TextMessage, []byte("a")), clientFrame(true, websocket.TextMessage, []byte("b"))...), errProtocol},
		"fragmented control frame":   {clientFrame(false, websocket.PingMessage, nil), errProtocol},
		"long control frame":         {clientFrame(true, websocket.PingMessage, bytes.Repeat([]byte("p"), 126)), errProtocol},
		"reserved opcode":            {clientFrame(true, 3, nil), errProtocol},
		"extension bits":             {append([]byte{0xc1}, clientFrame(true, websocket.TextMessage, []byte("x"))[1:]...), errProtocol},
		"frame over the limit":       {clientFrame(true, websocket.TextMessage, bytes.Repeat([]byte("x"), 101)), errTooBig},
		"fragments over the limit":   {append(clientFrame(false, websocket.TextMessage, bytes.Repeat([]byte("x"), 60)), clientFrame(true, 0, bytes.Repeat([]byte("x"), 60))...), errTooBig},
		// Refused from its header, before its 2^40 bytes could be waited for.
		"huge frame announced": {[]byte{0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0}, errTooBig},
	} {
		_, err := parse(t, 100, tc.stream)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
