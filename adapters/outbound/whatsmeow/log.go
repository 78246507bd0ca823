package whatsmeow

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// slogLogger hands whatsmeow's log lines to slog. Lines below min are dropped before they
// are formatted: whatsmeow's debug level logs every frame.
type slogLogger struct {
	base   *slog.Logger
	log    *slog.Logger
	module string
	min    slog.Level
}

func newLibraryLogger(log *slog.Logger, min slog.Level, module string) waLog.Logger {
	return &slogLogger{base: log, log: log.With("module", module), module: module, min: min}
}

func (l *slogLogger) Debugf(msg string, args ...any) { l.logf(slog.LevelDebug, msg, args) }
func (l *slogLogger) Infof(msg string, args ...any)  { l.logf(slog.LevelInfo, msg, args) }
func (l *slogLogger) Warnf(msg string, args ...any)  { l.logf(slog.LevelWarn, msg, args) }
func (l *slogLogger) Errorf(msg string, args ...any) { l.logf(slog.LevelError, msg, args) }

func (l *slogLogger) Sub(module string) waLog.Logger {
	return newLibraryLogger(l.base, l.min, l.module+"/"+module)
}

func (l *slogLogger) logf(level slog.Level, msg string, args []any) {
	if level < l.min || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(msg, args...))
}
