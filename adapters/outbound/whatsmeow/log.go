package whatsmeow

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	signalLog "go.mau.fi/libsignal/logger"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// slogLogger hands whatsmeow's log lines to slog. Lines below min are dropped before they
// are formatted: whatsmeow's debug level logs every frame. The module is added to each
// line rather than kept in a logger of its own (slog's With formats it at once): every
// client makes several sub-loggers, which log rarely, and there may be 10,000 clients.
type slogLogger struct {
	log    *slog.Logger
	module string
	min    slog.Level
}

func newLibraryLogger(log *slog.Logger, min slog.Level, module string) waLog.Logger {
	return &slogLogger{log: log, module: module, min: min}
}

func (l *slogLogger) Debugf(msg string, args ...any) { l.logf(slog.LevelDebug, msg, args) }
func (l *slogLogger) Infof(msg string, args ...any)  { l.logf(slog.LevelInfo, msg, args) }
func (l *slogLogger) Warnf(msg string, args ...any)  { l.logf(slog.LevelWarn, msg, args) }
func (l *slogLogger) Errorf(msg string, args ...any) { l.logf(slog.LevelError, msg, args) }

func (l *slogLogger) Sub(module string) waLog.Logger {
	return newLibraryLogger(l.log, l.min, l.module+"/"+module)
}

func (l *slogLogger) logf(level slog.Level, msg string, args []any) {
	if level < l.min || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(msg, args...), "module", l.module)
}

// libsignal logs through a package variable that it fills lazily, without a lock, on
// first use: two sessions signing at once raced on it, and its default logger writes to
// stdout. It is set once here, before any goroutine exists, to a logger that hands the
// lines to the slog.Logger of the latest Client (debug level: they are the library's own
// chatter), or drops them before New.
func init() {
	var l signalLog.Loggable = signalLogger{}
	signalLog.Setup(&l)
}

var signalSlog atomic.Pointer[slog.Logger]

type signalLogger struct{}

func (signalLogger) Debug(caller, msg string)   {}
func (signalLogger) Info(caller, msg string)    { signalLogf(caller, msg) }
func (signalLogger) Warning(caller, msg string) { signalLogf(caller, msg) }
func (signalLogger) Error(caller, msg string)   { signalLogf(caller, msg) }
func (signalLogger) Configure(string)           {}

func signalLogf(caller, msg string) {
	if l := signalSlog.Load(); l != nil {
		l.Debug(msg, "module", "libsignal", "caller", caller)
	}
}
