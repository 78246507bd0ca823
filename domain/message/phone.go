package message

import "strings"

// PhoneNumber returns the digits of an international phone number written with an
// optional leading +, and spaces, dashes, dots or parentheses between digits. ok is
// false unless it has 7 to 15 digits (E.164) and does not start with 0.
func PhoneNumber(s string) (digits string, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	digits = b.String()
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return "", false
	}
	return digits, true
}

// ChatJID is the JID of the one-to-one chat with a phone number (digits@s.whatsapp.net),
// or s itself when it is not a phone number (a JID already).
func ChatJID(s string) string {
	if digits, ok := PhoneNumber(s); ok {
		return digits + "@s.whatsapp.net"
	}
	return s
}
