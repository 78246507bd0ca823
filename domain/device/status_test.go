package device

import (
	"fmt"
	"testing"
)

// TestTransitionTable walks every pair of statuses against the state machine as the
// gateway documents it.
func TestTransitionTable(t *testing.T) {
	allowed := map[string]bool{}
	for _, pair := range []string{
		"created>connecting",
		"connecting>pairing", "connecting>ready", "connecting>disconnected", "connecting>logged_out", "connecting>failed",
		"pairing>connecting", "pairing>authenticated", "pairing>disconnected", "pairing>failed",
		"authenticated>connecting", "authenticated>ready", "authenticated>disconnected", "authenticated>logged_out", "authenticated>failed",
		"ready>connecting", "ready>disconnected", "ready>logged_out", "ready>failed",
		"disconnected>connecting", "disconnected>logged_out",
		"logged_out>connecting",
		"failed>connecting", "failed>logged_out",
	} {
		allowed[pair] = true
	}
	walked := 0
	for _, from := range Statuses {
		for _, to := range Statuses {
			pair := fmt.Sprintf("%s>%s", from, to)
			if got := CanTransition(from, to); got != allowed[pair] {
				t.Errorf("CanTransition(%s) = %v, want %v", pair, got, allowed[pair])
			}
			walked++
		}
	}
	if walked != 64 {
		t.Fatalf("walked %d pairs, want 8×8", walked)
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		got, err := ParseStatus(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "READY", "ready ", "deleted"} {
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) accepted", bad)
		}
	}
}
