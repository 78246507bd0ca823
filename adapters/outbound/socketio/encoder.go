package socketio

import (
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// rawParser is socket.io's parser whose encoder writes the events the gateway publishes
// (a name, a rawJSON payload and, for listeners that opted into recovery, an offset) as
// they are: socket.io's own passes the packet's arguments to encoding/json, which checks
// and compacts every payload again, JSON the log already holds compact and valid. That
// was a tenth of the CPU of a broadcast. Everything else is socket.io's.
type rawParser struct{ parser.Parser }

func (p rawParser) NewEncoder() parser.Encoder { return rawEncoder{p.Parser.NewEncoder()} }

type rawEncoder struct{ parser.Encoder }

func (e rawEncoder) Encode(p *parser.Packet) []types.BufferInterface {
	if b, ok := encodeRaw(p); ok {
		return []types.BufferInterface{types.NewStringBuffer(b)}
	}
	return e.Encoder.Encode(p)
}

// encodeRaw encodes an event without acknowledgement whose arguments are a rawJSON
// payload and an optional offset, as socket.io's encoder would: 2/nsp,["name",{…},"offset"].
func encodeRaw(p *parser.Packet) ([]byte, bool) {
	return appendRaw(make([]byte, 0, rawLen(p)+maxPunctuation), p)
}

// rawLen is the length of p encoded by appendRaw, but for a few punctuation bytes.
func rawLen(p *parser.Packet) int {
	n := len(p.Nsp)
	args, _ := p.Data.([]any)
	for _, a := range args {
		switch a := a.(type) {
		case string:
			n += len(a)
		case rawJSON:
			n += len(a.b)
		}
	}
	return n
}

// maxPunctuation is how many bytes appendRaw adds to rawLen's: 2,["",,""] and a digit.
const maxPunctuation = 16

// appendRaw appends p to b as encodeRaw encodes it.
func appendRaw(b []byte, p *parser.Packet) ([]byte, bool) {
	args, ok := p.Data.([]any)
	if p.Type != parser.EVENT || p.Id != nil || !ok || len(args) < 2 || len(args) > 3 {
		return b, false
	}
	name, ok1 := args[0].(string)
	payload, ok2 := args[1].(rawJSON)
	var offset string
	ok3 := true
	if len(args) == 3 {
		offset, ok3 = args[2].(string)
	}
	if !ok1 || !ok2 || !ok3 || !plain(name) || !plain(offset) {
		return b, false
	}
	b = append(b, '0'+byte(parser.EVENT))
	if p.Nsp != "" && p.Nsp != "/" {
		b = append(b, p.Nsp...)
		b = append(b, ',')
	}
	b = append(b, `["`...)
	b = append(b, name...)
	b = append(b, `",`...)
	b = append(b, payload.b...)
	if len(args) == 3 {
		b = append(b, `,"`...)
		b = append(b, offset...)
		b = append(b, '"')
	}
	return append(b, ']'), true
}

// plain is whether encoding/json writes s between quotes as it is: printable ASCII
// without the characters it escapes.
func plain(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
