package wasim

import (
	"bytes"
	"errors"
	"fmt"
)

// WhatsApp frames travel inside websocket binary messages: the client's very
// first message starts with a 4-byte header ("WA", magic 6, dictionary
// version), and every frame is a 3-byte big-endian length followed by that
// many bytes. whatsmeow sends one frame per websocket message, but the
// framing does not promise it, so frameReader copes with frames split across
// or packed into messages.

const (
	frameLengthSize = 3
	maxFrameSize    = 1<<24 - 1
	// maxClientFrame bounds what a client may send us; the largest legitimate
	// frame is the initial upload of 812 prekeys (about 40 KB).
	maxClientFrame = 4 << 20
)

var errBadHeader = errors.New("connection does not start with the WA header")

type frameReader struct {
	headerDone bool
	buf        []byte // unconsumed bytes of a partial frame
}

// feed appends one websocket message and returns the complete frames in it.
func (fr *frameReader) feed(msg []byte) ([][]byte, error) {
	if !fr.headerDone {
		if len(msg) < 4 || !bytes.Equal(msg[:2], []byte("WA")) {
			return nil, errBadHeader
		}
		msg = msg[4:]
		fr.headerDone = true
	}
	data := msg
	if len(fr.buf) > 0 {
		data = append(fr.buf, msg...)
		fr.buf = nil
	}
	var frames [][]byte
	for len(data) >= frameLengthSize {
		n := int(data[0])<<16 | int(data[1])<<8 | int(data[2])
		if n > maxClientFrame {
			return nil, fmt.Errorf("frame of %d bytes is too large", n)
		}
		if len(data) < frameLengthSize+n {
			break
		}
		frames = append(frames, data[frameLengthSize:frameLengthSize+n])
		data = data[frameLengthSize+n:]
	}
	if len(data) > 0 {
		fr.buf = append([]byte(nil), data...)
	}
	return frames, nil
}

// encodeFrame prefixes data with its 3-byte length. Servers never send the
// WA header.
func encodeFrame(data []byte) ([]byte, error) {
	if len(data) > maxFrameSize {
		return nil, fmt.Errorf("frame of %d bytes is too large", len(data))
	}
	out := make([]byte, frameLengthSize+len(data))
	out[0], out[1], out[2] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(out[frameLengthSize:], data)
	return out, nil
}
