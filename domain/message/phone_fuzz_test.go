package message

import (
	"strings"
	"testing"
)

// FuzzPhoneNumber checks what PhoneNumber accepts: E.164 digits only, the input's own
// digits in order, and a result that reads back as itself, with or without a +.
func FuzzPhoneNumber(f *testing.F) {
	for _, seed := range []string{
		"+1 (555) 123-4567", "4915112345678", " +44 20 7946 0958", "", "123", "0049151123456",
		"+1555abc4567", "1234567890123456", "15551234567@s.whatsapp.net", "++15551234567", "１５５５１２３４５６７",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits, ok := PhoneNumber(s)
		if !ok {
			if digits != "" {
				t.Fatalf("PhoneNumber(%q) refused but returned %q", s, digits)
			}
			return
		}
		if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("PhoneNumber(%q) = %q", s, digits)
		}
		if own := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s); own != digits {
			t.Fatalf("PhoneNumber(%q) = %q, not the digits it was given", s, digits)
		}
		for _, again := range []string{digits, "+" + digits} {
			if d, ok := PhoneNumber(again); !ok || d != digits {
				t.Fatalf("PhoneNumber(%q) = %q, %v: %q does not read back", again, d, ok, digits)
			}
		}
	})
}
