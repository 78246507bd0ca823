package apikey_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/adapters/inbound/apikey"
	"github.com/wagate/wagate/adapters/outbound/memory"
	"github.com/wagate/wagate/application"
	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/key"
)

const admin = "admin-key-0123456789-0123456789-abcdef"

func newGuard(t *testing.T, o apikey.Options) (*apikey.Guard, *bytes.Buffer, *memory.Keys) {
	t.Helper()
	var logs bytes.Buffer
	keys := memory.NewKeys()
	auth := application.NewAuthenticate(keys, admin, time.Now)
	return apikey.New(auth, slog.New(slog.NewTextHandler(&logs, nil)), o), &logs, keys
}

var ctx = context.Background()

func TestCheckAnswersTheContractErrors(t *testing.T) {
	t.Parallel()
	g, logs, _ := newGuard(t, apikey.Options{})
	for _, tc := range []struct {
		secret, want string
	}{
		{"", "API key is required"},
		{"nope", "Invalid API key"},
		{admin + " ", "Invalid API key"},
		{strings.ToUpper(admin), "Invalid API key"},
		{"wag_unknown", "Invalid API key"},
	} {
		_, err := g.Check(ctx, tc.secret, "192.0.2.1:1234", "test")
		if err == nil || err.Error() != tc.want || domain.KindOf(err) != domain.KindUnauthorized {
			t.Errorf("Check(%q) = %v, want %q (unauthorized)", tc.secret, err, tc.want)
		}
	}
	a, err := g.Check(ctx, admin, "192.0.2.1:1234", "test")
	if err != nil || a.Role != key.RoleAdmin || !a.AllDevices() {
		t.Fatalf("admin key: %+v %v", a, err)
	}
	if !strings.Contains(logs.String(), "authentication failed") || !strings.Contains(logs.String(), "client=192.0.2.1/32") {
		t.Fatalf("failures are not logged with the client: %s", logs.String())
	}
	if strings.Contains(logs.String(), admin[:12]) || strings.Contains(logs.String(), "nope") {
		t.Fatalf("a presented key appears in the logs: %s", logs.String())
	}

	none := apikey.New(application.NewAuthenticate(memory.NewKeys(), "", time.Now), slog.New(slog.DiscardHandler), apikey.Options{})
	for _, secret := range []string{"", "anything", admin} {
		if _, err := none.Check(ctx, secret, "192.0.2.1:1", "test"); !errors.Is(err, key.ErrNotConfigured) || err.Error() != "Server configuration error" {
			t.Errorf("no key configured: Check(%q) = %v", secret, err)
		}
	}
}

func TestCreatedKeysExpireAndRevoke(t *testing.T) {
	t.Parallel()
	g, _, keys := newGuard(t, apikey.Options{})
	now := time.Now()
	k, secret, err := key.New("soon", key.RoleReadOnly, nil, now.Add(2*time.Second), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	a, err := g.Check(ctx, secret, "192.0.2.1:1", "test")
	if err != nil || a.KeyID != k.ID() || a.Role != key.RoleReadOnly {
		t.Fatalf("fresh key: %+v %v", a, err)
	}
	time.Sleep(time.Until(now.Add(2*time.Second)) + 50*time.Millisecond)
	if _, err := g.Check(ctx, secret, "192.0.2.1:1", "test"); !errors.Is(err, key.ErrInvalid) {
		t.Fatalf("expired key: %v, want Invalid API key", err)
	}

	k2, secret2, _ := key.New("revoked", key.RoleOperator, nil, time.Time{}, now)
	_ = keys.Create(ctx, k2)
	if _, err := g.Check(ctx, secret2, "192.0.2.1:1", "test"); err != nil {
		t.Fatal(err)
	}
	_ = keys.Delete(ctx, k2.ID())
	if _, err := g.Check(ctx, secret2, "192.0.2.1:1", "test"); !errors.Is(err, key.ErrInvalid) {
		t.Fatalf("revoked key: %v, want Invalid API key", err)
	}
}

func TestFailuresAreThrottledPerAddress(t *testing.T) {
	t.Parallel()
	g, logs, _ := newGuard(t, apikey.Options{FailureBurst: 5, FailureEvery: time.Hour})
	for i := range 5 {
		if _, err := g.Check(ctx, "wrong", "192.0.2.7:1000", "test"); !errors.Is(err, key.ErrInvalid) {
			t.Fatalf("failure %d: %v, want Invalid API key", i, err)
		}
	}
	_, err := g.Check(ctx, "wrong", "192.0.2.7:2000", "test") // another port: the same client
	if domain.KindOf(err) != domain.KindRateLimited || err.Error() != apikey.ThrottledMessage {
		t.Fatalf("6th failure: %v, want throttled", err)
	}
	if d := domain.RetryAfterOf(err); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("RetryAfter = %v, want about an hour", d)
	}
	// Only failures count: the valid key still gets in from the throttled address.
	if a, err := g.Check(ctx, admin, "192.0.2.7:3000", "test"); err != nil || a.Role != key.RoleAdmin {
		t.Fatalf("valid key from a throttled address: %v", err)
	}
	// Other addresses have their own budget; IPv6 clients are counted by /64.
	if _, err := g.Check(ctx, "wrong", "192.0.2.8:1000", "test"); !errors.Is(err, key.ErrInvalid) {
		t.Fatalf("another address: %v", err)
	}
	for i := range 5 {
		_, _ = g.Check(ctx, "wrong", "[2001:db8::"+string(rune('1'+i))+"]:1", "test")
	}
	if _, err := g.Check(ctx, "wrong", "[2001:db8::ff]:1", "test"); domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("same IPv6 /64: %v, want throttled", err)
	}
	if !strings.Contains(logs.String(), "authentication throttled") {
		t.Fatalf("throttling is not logged: %s", logs.String())
	}
}

func TestTrackedAddressesAreBounded(t *testing.T) {
	t.Parallel()
	g, _, _ := newGuard(t, apikey.Options{FailureBurst: 1, FailureEvery: time.Hour, Addresses: 2})
	_, _ = g.Check(ctx, "wrong", "192.0.2.1:1", "test")
	if _, err := g.Check(ctx, "wrong", "192.0.2.1:1", "test"); domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("second failure: %v, want throttled", err)
	}
	// Two more addresses push the first out of the table: it starts afresh.
	_, _ = g.Check(ctx, "wrong", "192.0.2.2:1", "test")
	_, _ = g.Check(ctx, "wrong", "192.0.2.3:1", "test")
	if _, err := g.Check(ctx, "wrong", "192.0.2.1:1", "test"); !errors.Is(err, key.ErrInvalid) {
		t.Fatalf("forgotten address: %v, want a fresh budget", err)
	}
}
