package bootstrap

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 3000 || cfg.DataDir != "./data" || cfg.DatabaseURL != "" || cfg.RedisURL != "" || cfg.LogLevel != slog.LevelInfo || cfg.Addr() != ":3000" ||
		cfg.EventRetention != 7*24*time.Hour || cfg.MessageRetention != 14*24*time.Hour {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	_, err := LoadConfig(env(map[string]string{"PORT": "http", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml",
		"CORS_ORIGINS": "https://ok.example.com, app.example.com", "SOCKETIO_MAX_CONNECTIONS_PER_KEY": "-1",
		"EVENT_RETENTION": "30s", "MESSAGE_RETENTION": "two weeks", "REDIS_URL": "127.0.0.1:6379", "METRICS_TOKEN": "short"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"PORT", "LOG_LEVEL", "LOG_FORMAT", `CORS_ORIGINS must list origins such as https://app.example.com (scheme and host, no path) or *, not "app.example.com"`, "SOCKETIO_MAX_CONNECTIONS_PER_KEY",
		"REDIS_URL must be a Redis URL", "METRICS_TOKEN must have at least 32 characters, not 5", `EVENT_RETENTION must be a duration of at least a minute, such as 168h, not "30s"`, `MESSAGE_RETENTION must be a duration of at least a minute, such as 168h, not "two weeks"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestLogFormat checks that LOG_FORMAT auto (the default) writes text to a terminal and
// JSON elsewhere, and that text and json are obeyed everywhere.
func TestLogFormat(t *testing.T) {
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0) // a pseudo-terminal's master is a terminal
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	pipe, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	defer w.Close()
	cfg, err := LoadConfig(env(nil))
	if err != nil || cfg.LogFormat != "auto" {
		t.Fatalf("default LOG_FORMAT %q, %v", cfg.LogFormat, err)
	}
	for _, c := range []struct {
		format string
		to     *os.File
		json   bool
	}{{"auto", tty, false}, {"auto", w, true}, {"text", w, false}, {"json", tty, true}} {
		cfg.LogFormat = c.format
		_, isJSON := cfg.loggerTo(c.to).Handler().(*slog.JSONHandler)
		if isJSON != c.json {
			t.Errorf("LOG_FORMAT=%s to %s: JSON %v, want %v", c.format, c.to.Name(), isJSON, c.json)
		}
	}
}

func TestGeneratedKeyIsKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg, _ := LoadConfig(env(map[string]string{"DATA_DIR": dir}))
	generated, err := cfg.ResolveAPIKey()
	if err != nil || !generated || len(cfg.APIKey) < 40 {
		t.Fatalf("first start: generated %v, key of %d chars, %v", generated, len(cfg.APIKey), err)
	}
	info, err := os.Stat(filepath.Join(dir, APIKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode())
	}
	again, _ := LoadConfig(env(map[string]string{"DATA_DIR": dir}))
	generated, err = again.ResolveAPIKey()
	if err != nil || generated || again.APIKey != cfg.APIKey {
		t.Fatalf("second start: generated %v, same key %v, %v", generated, again.APIKey == cfg.APIKey, err)
	}
}

func TestExplicitKey(t *testing.T) {
	dir := t.TempDir()
	for _, key := range []string{strings.Repeat("k", MinAPIKeyLength), ""} {
		cfg, err := LoadConfig(env(map[string]string{"DATA_DIR": dir, "API_KEY": key}))
		if err != nil {
			t.Fatalf("API_KEY=%q: %v", key, err)
		}
		if generated, err := cfg.ResolveAPIKey(); err != nil || generated || cfg.APIKey != key {
			t.Fatalf("API_KEY=%q: key %q, generated %v, %v", key, cfg.APIKey, generated, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, APIKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was written although API_KEY was set")
	}
}

func TestShortAPIKeyIsRefused(t *testing.T) {
	short := "correct-horse-battery-staple-31" // 31 characters
	_, err := LoadConfig(env(map[string]string{"API_KEY": short}))
	if err == nil || !strings.Contains(err.Error(), "API_KEY must have at least 32 characters, not 31") {
		t.Fatalf("short key: %v", err)
	}
	if strings.Contains(err.Error(), short) {
		t.Fatalf("the error shows the key: %v", err)
	}
	// Characters, not bytes: 32 two-byte characters make a 32-character key.
	if _, err := LoadConfig(env(map[string]string{"API_KEY": strings.Repeat("é", 32)})); err != nil {
		t.Fatalf("32 characters: %v", err)
	}
}

func TestCORSOrigins(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"CORS_ORIGINS": " https://app.example.com , http://localhost:5173,*"}))
	if err != nil || strings.Join(cfg.CORSOrigins, " ") != "https://app.example.com http://localhost:5173 *" {
		t.Fatalf("%v %v", cfg.CORSOrigins, err)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "ftp://x", "https://", "https://u@x"} {
		if _, err := LoadConfig(env(map[string]string{"CORS_ORIGINS": bad})); err == nil || strings.Contains(err.Error(), "ok.example") {
			t.Errorf("CORS_ORIGINS=%q accepted", bad)
		}
	}
}

// The collector runs at DefaultGOGC unless GOGC says otherwise.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	TuneGC()
	if got := debug.SetGCPercent(77); got != DefaultGOGC {
		t.Fatalf("GOGC unset: the collector's target is %d, want %d", got, DefaultGOGC)
	}
	t.Setenv("GOGC", "77") // as the runtime read it at start
	TuneGC()
	if got := debug.SetGCPercent(77); got != 77 {
		t.Fatalf("GOGC=77: the target was changed to %d", got)
	}
}
