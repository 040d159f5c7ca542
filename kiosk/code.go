package kiosk

import (
	"crypto/sha256"
	"encoding/base32"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or copied by hand is not misread.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// ConfirmationCode is the code the person is given as proof of a check-in:
// eight characters derived from the record id, as "XXXX-XXXX". Staff and the
// upstream can derive it from the same id; it says nothing about the person.
func ConfirmationCode(recordID string) string {
	sum := sha256.Sum256([]byte("sdc-confirmation-code\x00" + recordID))
	s := crockford.EncodeToString(sum[:5])
	return s[:4] + "-" + s[4:8]
}
