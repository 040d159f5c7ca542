package card

import (
	"errors"
	"fmt"
	"strings"
)

// base45Alphabet is the RFC 9285 alphabet: the 45 characters of the QR code
// alphanumeric mode, so a Base45 payload fills a QR code at 5.5 bits a character.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its Base45 value, or -1 when it is not in the alphabet.
var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// ErrBase45 is wrapped by every error DecodeBase45 returns.
var ErrBase45 = errors.New("invalid base45")

// EncodeBase45 encodes b as RFC 9285 Base45: each pair of bytes becomes three
// characters, a final odd byte two.
func EncodeBase45(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b)/2*3 + len(b)%2*2)
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45%45])
		sb.WriteByte(base45Alphabet[n/(45*45)])
		b = b[2:]
	}
	if len(b) == 1 {
		n := int(b[0])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	return sb.String()
}

// DecodeBase45 decodes RFC 9285 Base45. It rejects characters outside the
// alphabet (including lower case), a dangling single character, and groups
// whose value does not fit their byte count (so every input has at most one
// decoding and EncodeBase45(DecodeBase45(s)) == s).
func DecodeBase45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a single character", ErrBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		end := min(i+3, len(s))
		n := 0
		mul := 1
		for j := i; j < end; j++ {
			v := base45Value[s[j]]
			if v < 0 {
				return nil, fmt.Errorf("%w: character %q at offset %d", ErrBase45, s[j], j)
			}
			n += int(v) * mul
			mul *= 45
		}
		if end-i == 3 {
			if n > 0xFFFF {
				return nil, fmt.Errorf("%w: group at offset %d has value %d > 65535", ErrBase45, i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xFF {
				return nil, fmt.Errorf("%w: final pair at offset %d has value %d > 255", ErrBase45, i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
