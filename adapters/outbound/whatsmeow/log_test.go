package whatsmeow

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestLibraryLoggerModule: whatsmeow's lines carry the module of the (sub-)logger that
// wrote them, and lines below the minimum level are dropped.
func TestLibraryLoggerModule(t *testing.T) {
	var buf bytes.Buffer
	log := newLibraryLogger(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelWarn, "Client/d1")
	log.Sub("Recv").Warnf("frame %d refused", 7)
	log.Debugf("chatter")
	var line struct{ Level, Msg, Module string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", buf.String(), err)
	}
	if line.Level != "WARN" || line.Msg != "frame 7 refused" || line.Module != "Client/d1/Recv" {
		t.Fatalf("logged %+v", line)
	}
}
