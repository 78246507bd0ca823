package whatsmeow

import (
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"github.com/wagate/wagate/domain"
	"github.com/wagate/wagate/domain/message"
)

// FuzzRecipient checks the recipients recipient accepts: a user by phone number (E.164
// digits), a LID or a group, never a device or another server, and the JID reads back as
// itself. Whatever it refuses is an invalid-request error.
func FuzzRecipient(f *testing.F) {
	for _, seed := range []string{
		"+15559876543", "+1 555 987 6543", "15559876543@s.whatsapp.net", "15559876543:3@s.whatsapp.net",
		"100000000000042@lid", "120363025246125486@g.us", "15551234567-1612345678@g.us", "not a number",
		"1555@s.whatsapp.net", "abc@g.us", "@lid", "15559876543@broadcast", "status@broadcast", "15559876543.0:1@s.whatsapp.net",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, to string) {
		j, err := recipient(to)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid || j != types.EmptyJID {
				t.Fatalf("recipient(%q) = %v, %v", to, j, err)
			}
			return
		}
		if j.Device != 0 || j.RawAgent != 0 || j.Integrator != 0 {
			t.Fatalf("recipient(%q) = %#v: a device address", to, j)
		}
		switch j.Server {
		case types.DefaultUserServer:
			if d, ok := message.PhoneNumber(j.User); !ok || d != j.User {
				t.Fatalf("recipient(%q) = %v: not a phone number", to, j)
			}
		case types.HiddenUserServer, types.GroupServer:
			if j.User == "" || strings.Trim(j.User, "0123456789-") != "" {
				t.Fatalf("recipient(%q) = %v", to, j)
			}
		default:
			t.Fatalf("recipient(%q) = %v: server %q", to, j, j.Server)
		}
		if again, err := recipient(j.String()); err != nil || again != j {
			t.Fatalf("recipient(%q) = %v, which reads back as %v, %v", to, j, again, err)
		}
	})
}
