package card

import (
	"bytes"
	"errors"
	"testing"
)

func TestBase45(t *testing.T) {
	// RFC 9285 sections 4.3 and 4.4.
	for _, tt := range []struct{ raw, enc string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\x00", "00"},
		{"\xff", "U5"},
		{"\xff\xff", "FGW"},
	} {
		if got := EncodeBase45([]byte(tt.raw)); got != tt.enc {
			t.Errorf("EncodeBase45(%q) = %q; want %q", tt.raw, got, tt.enc)
		}
		got, err := DecodeBase45(tt.enc)
		if err != nil || !bytes.Equal(got, []byte(tt.raw)) {
			t.Errorf("DecodeBase45(%q) = %q, %v; want %q, nil", tt.enc, got, err, tt.raw)
		}
	}
}

func TestDecodeBase45Invalid(t *testing.T) {
	for _, s := range []string{
		"GGW",      // 65535 + 1 + …: a group over 65535 (RFC 9285 section 6)
		"ZZZ",      // far over
		"V5",       // a final pair over 255
		"A",        // a dangling single character
		"BB8A",     // a dangling character after a group
		"bb8",      // lower case is not in the alphabet
		"BB8\n",    // nor is a newline
		"BB#",      // nor '#'
		"BB\xff",   // nor a high byte
		"%69 VD9_", // nor '_'
	} {
		if got, err := DecodeBase45(s); err == nil || !errors.Is(err, ErrBase45) {
			t.Errorf("DecodeBase45(%q) = %q, %v; want an ErrBase45 error", s, got, err)
		}
	}
}
