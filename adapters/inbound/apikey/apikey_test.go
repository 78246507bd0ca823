package apikey

import (
	"errors"
	"testing"
)

func TestVerify(t *testing.T) {
	v := NewVerifier("s3cret-key")
	for _, tc := range []struct {
		candidate string
		want      error
	}{
		{"s3cret-key", nil},
		{"", ErrMissing},
		{"s3cret-ke", ErrInvalid},
		{"s3cret-key ", ErrInvalid},
		{"S3CRET-KEY", ErrInvalid},
	} {
		if err := v.Verify(tc.candidate); !errors.Is(err, tc.want) {
			t.Errorf("Verify(%q) = %v, want %v", tc.candidate, err, tc.want)
		}
	}
	none := NewVerifier("")
	for _, c := range []string{"", "anything"} {
		if err := none.Verify(c); !errors.Is(err, ErrNotConfigured) {
			t.Errorf("no key configured: Verify(%q) = %v", c, err)
		}
	}
	if ErrMissing.Error() != "API key is required" || ErrInvalid.Error() != "Invalid API key" || ErrNotConfigured.Error() != "Server configuration error" {
		t.Fatal("error strings differ from the gateway contract")
	}
}
