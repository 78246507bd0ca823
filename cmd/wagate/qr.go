package main

import (
	"strings"

	"github.com/skip2/go-qrcode"
)

// qrMatrix is the QR code of text, quiet zone included, true for dark modules. Level Low
// keeps WhatsApp's long codes small enough for a terminal; the REST API's PNG uses the
// same library.
func qrMatrix(text string) ([][]bool, error) {
	q, err := qrcode.New(text, qrcode.Low)
	if err != nil {
		return nil, err
	}
	return q.Bitmap(), nil
}

// halfBlocks draws the QR code of text with half-block characters, two rows of modules
// per line of text, so that it keeps its square shape. With lightBlocks the characters
// draw the light modules, which is right on the usual light-on-dark terminal: the
// terminal's dark background shows the dark modules.
func halfBlocks(text string, lightBlocks bool) string {
	m, err := qrMatrix(text)
	if err != nil {
		return "(cannot draw this code: " + err.Error() + ")"
	}
	filled := func(y, x int) bool {
		if y >= len(m) {
			return lightBlocks // below the last row: quiet zone, light
		}
		return m[y][x] != lightBlocks
	}
	var b strings.Builder
	for y := 0; y < len(m); y += 2 {
		for x := range m[y] {
			switch top, bottom := filled(y, x), filled(y+1, x); {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
