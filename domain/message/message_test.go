package message

import (
	"strings"
	"testing"

	"github.com/wagate/wagate/domain"
)

func TestPhoneNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (555) 123-4567": "15551234567",
		"4915112345678":     "4915112345678",
		" +44 20 7946 0958": "442079460958",
	} {
		if got, ok := PhoneNumber(in); !ok || got != want {
			t.Errorf("PhoneNumber(%q) = %q, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "123", "0049151123456", "+1555abc4567", "1234567890123456", "15551234567@s.whatsapp.net"} {
		if got, ok := PhoneNumber(bad); ok {
			t.Errorf("PhoneNumber(%q) = %q, accepted", bad, got)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := []Outgoing{
		{To: "1555", Text: "hi"},
		{To: "1555", Text: "caption", Media: &Attachment{Type: TypeImage, Data: []byte{1}}},
		{To: "1555", Location: &Location{Latitude: 52.5, Longitude: 13.4}},
		{To: "1555", Contact: &Contact{Name: "Ann", PhoneNumber: "1555"}},
		{To: "1555", Reaction: &Reaction{MessageID: "ABC", Emoji: "👍"}},
		{To: "1555", Reaction: &Reaction{MessageID: "ABC"}},
	}
	for _, o := range valid {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	invalid := map[string]Outgoing{
		"no recipient":      {Text: "hi"},
		"no content":        {To: "1555"},
		"two kinds":         {To: "1555", Location: &Location{}, Contact: &Contact{Name: "a", PhoneNumber: "1"}},
		"text too long":     {To: "1555", Text: strings.Repeat("a", MaxTextLength+1)},
		"reaction no id":    {To: "1555", Reaction: &Reaction{Emoji: "x"}},
		"reaction and text": {To: "1555", Text: "x", Reaction: &Reaction{MessageID: "a"}},
		"latitude":          {To: "1555", Location: &Location{Latitude: 91}},
		"contact":           {To: "1555", Contact: &Contact{Name: "a"}},
		"empty media":       {To: "1555", Media: &Attachment{Type: TypeImage}},
		"media type":        {To: "1555", Media: &Attachment{Type: TypeText, Data: []byte{1}}},
	}
	for name, o := range invalid {
		if err := o.Validate(); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
