package key_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/device"
	"github.com/wagate/wagate/domain/key"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// TestAccess walks every role against every kind of act, on a device in scope and one out.
func TestAccess(t *testing.T) {
	mine, other := device.NewID(t0), device.NewID(t0.Add(time.Millisecond))
	notFound := domain.KindNotFound
	forbidden := domain.KindForbidden
	for _, tc := range []struct {
		name   string
		access key.Access
		want   [6]domain.Kind // "" for allowed
	}{
		{"configured", key.Configured(), [6]domain.Kind{}},
		{"admin", key.Limited(key.RoleAdmin), [6]domain.Kind{}},
		{"operator", key.Limited(key.RoleOperator), [6]domain.Kind{"", "", "", "", "", forbidden}},
		{"read-only", key.Limited(key.RoleReadOnly), [6]domain.Kind{"", forbidden, "", forbidden, forbidden, forbidden}},
		{"scoped operator", key.Limited(key.RoleOperator, mine), [6]domain.Kind{"", "", notFound, notFound, forbidden, forbidden}},
		{"scoped read-only", key.Limited(key.RoleReadOnly, mine), [6]domain.Kind{"", forbidden, notFound, notFound, forbidden, forbidden}},
	} {
		got := []error{tc.access.Read(mine), tc.access.Write(mine), tc.access.Read(other), tc.access.Write(other), tc.access.CreateDevice(), tc.access.Admin()}
		for i, err := range got {
			var kind domain.Kind
			if err != nil {
				kind = domain.KindOf(err)
			}
			if kind != tc.want[i] {
				t.Errorf("%s: act %d = %v, want %q", tc.name, i, err, tc.want[i])
			}
		}
	}
	if err := key.Limited(key.RoleReadOnly, mine).Read(other); err.Error() != device.NotFound(other).Error() {
		t.Fatalf("out of scope reads as %q, want the not-found message", err)
	}
}

func TestNew(t *testing.T) {
	k, secret, err := key.New("  ci  ", key.RoleOperator, []device.ID{"b", "a", "b"}, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	s := k.Snapshot()
	if s.Name != "ci" || len(s.Devices) != 2 || s.Devices[0] != "a" || s.Hash != key.HashOf(secret) ||
		!strings.HasPrefix(secret, key.Prefix) || len(secret) != 47 || s.Hint != secret[:8] {
		t.Fatalf("key %+v secret %q", s, secret)
	}
	if _, err := key.ParseID(k.ID().String()); err != nil {
		t.Fatalf("the new id does not parse: %v", err)
	}
	if k.Expired(t0.Add(59*time.Minute)) || !k.Expired(t0.Add(time.Hour)) {
		t.Fatal("expiry is off")
	}
	_, other, _ := key.New("ci", key.RoleOperator, nil, time.Time{}, t0)
	if other == secret {
		t.Fatal("two keys share a secret")
	}
	for _, tc := range []struct {
		name    string
		role    key.Role
		devices []device.ID
		expires time.Time
		want    string
	}{
		{"", key.RoleAdmin, nil, time.Time{}, "name must not be empty"},
		{strings.Repeat("x", 101), key.RoleAdmin, nil, time.Time{}, "at most 100 characters"},
		{"x", key.Role{}, nil, time.Time{}, "role must be"},
		{"x", key.RoleAdmin, []device.ID{"a"}, time.Time{}, "cannot be limited to devices"},
		{"x", key.RoleReadOnly, make([]device.ID, key.MaxDevices+1), time.Time{}, "at most 1000 devices"},
		{"x", key.RoleReadOnly, nil, t0, "must be in the future"},
	} {
		if _, _, err := key.New(tc.name, tc.role, tc.devices, tc.expires, t0); err == nil || !strings.Contains(err.Error(), tc.want) || domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("New(%.10q, %v): %v, want %q", tc.name, tc.role, err, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"admin", "operator", "read-only"} {
		if r, err := key.ParseRole(s); err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Admin", "readonly", "root"} {
		if _, err := key.ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
	for _, s := range []string{"", "k_", "k_0123456789ABCDEF", "x_0123456789abcdef", "k_0123456789abcdeg", "k_0123456789abcdef0"} {
		if _, err := key.ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted", s)
		}
	}
	if key.ErrInvalid.Error() != "Invalid API key" || key.ErrMissing.Error() != "API key is required" || key.ErrNotConfigured.Error() != "Server configuration error" {
		t.Fatal("the contract's strings changed")
	}
}
