package card

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// CWT claim keys (RFC 8392) and our private-use card claim.
const (
	claimIss  = 1
	claimExp  = 4
	claimIat  = 6
	claimCti  = 7
	claimCard = -65537 // private use: below -65536 (RFC 8392 section 9.1)
)

// Keys of the card claim's map.
const (
	cardANumber    = 1
	cardFamilyName = 2
	cardGivenName  = 3
	cardBirthDate  = 4
	cardOffice     = 5
)

// Field limits, checked when issuing and when verifying.
const (
	maxIssuerLen  = 128
	maxSerialLen  = 32 // bytes of cti
	maxANumberLen = 16
	maxNameLen    = 128
	maxOfficeLen  = 64
)

// cwtClaims is the CWT claims map as read when verifying. Unknown claims are
// ignored (the EU DCC puts its payload in -260); a claim of the wrong type
// fails the decode.
type cwtClaims struct {
	Iss  *string         `cbor:"1,keyasint,omitempty"`
	Exp  cbor.RawMessage `cbor:"4,keyasint,omitempty"`
	Iat  cbor.RawMessage `cbor:"6,keyasint,omitempty"`
	Cti  cbor.RawMessage `cbor:"7,keyasint,omitempty"`
	Card cbor.RawMessage `cbor:"-65537,keyasint,omitempty"`
}

// cardClaim is the card claim's map as read when verifying. Unknown keys are
// ignored so a later format may add fields old kiosks skip.
type cardClaim struct {
	ANumber    *string `cbor:"1,keyasint,omitempty"`
	FamilyName *string `cbor:"2,keyasint,omitempty"`
	GivenName  *string `cbor:"3,keyasint,omitempty"`
	BirthDate  *int64  `cbor:"4,keyasint,omitempty"` // days since 1970-01-01
	Office     *string `cbor:"5,keyasint,omitempty"`
}

// A date of birth travels as a day number, days since 1970-01-01 (negative
// before): at most 3 bytes of CBOR for a date from 1791 into 2149, where
// the text YYYY-MM-DD takes 11. Its range is the years YYYY can spell.
var (
	minBirthDay = dayNumber(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
	maxBirthDay = dayNumber(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
)

const secondsPerDay = 24 * 60 * 60

func dayNumber(t time.Time) int64 {
	return t.Unix() / secondsPerDay // exact: t is a UTC midnight
}

// birthDay is the day number of a date of birth YYYY-MM-DD.
func birthDay(date string) (int64, error) {
	if len(date) != len(time.DateOnly) {
		return 0, errors.New("date of birth is not YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return 0, errors.New("date of birth is not YYYY-MM-DD")
	}
	return dayNumber(t), nil
}

// birthDate is the date YYYY-MM-DD of day number n.
func birthDate(n int64) (string, error) {
	if n < minBirthDay || n > maxBirthDay {
		return "", errors.New("date of birth out of range") // the value is personal data
	}
	return time.Unix(n*secondsPerDay, 0).UTC().Format(time.DateOnly), nil
}

// parseSerial decodes a card serial from hex.
func parseSerial(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("serial is not hex: %w", err)
	}
	if len(b) == 0 || len(b) > maxSerialLen {
		return nil, fmt.Errorf("serial of %d bytes, want 1 to %d", len(b), maxSerialLen)
	}
	return b, nil
}

// numericDate decodes a CWT NumericDate: an integer or a finite float
// number of seconds since the epoch, fractions dropped.
func numericDate(raw cbor.RawMessage) (time.Time, error) {
	// Decode into the type of raw's major type, not into an interface:
	// Verify reads two dates on every scan.
	switch {
	case majorType(raw) == 0:
		var n uint64
		if err := decMode.Unmarshal(raw, &n); err != nil {
			return time.Time{}, err
		}
		if n > math.MaxInt64 {
			return time.Time{}, errors.New("date out of range")
		}
		return time.Unix(int64(n), 0).UTC(), nil
	case majorType(raw) == 1:
		var n int64
		if err := decMode.Unmarshal(raw, &n); err != nil {
			return time.Time{}, err // below math.MinInt64
		}
		return time.Unix(n, 0).UTC(), nil
	case len(raw) > 0 && (raw[0] == 0xf9 || raw[0] == 0xfa || raw[0] == 0xfb): // half, single, double
		var f float64
		if err := decMode.Unmarshal(raw, &f); err != nil {
			return time.Time{}, err
		}
		if math.IsNaN(f) || f < -1<<62 || f > 1<<62 {
			return time.Time{}, errors.New("date out of range")
		}
		return time.Unix(int64(math.Floor(f)), 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date of CBOR major type %d", majorType(raw))
}

// checkText checks a text field: present, within max bytes, and free of
// control characters. The error names the field, never its value.
func checkText(field, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if len(s) > max {
		return fmt.Errorf("%s longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s has a control character", field)
		}
	}
	return nil
}

// checkCard checks the card fields (not Issuer, Serial and the times).
func checkCard(c *Card) error {
	if err := checkText("a-number", c.ANumber, maxANumberLen); err != nil {
		return err
	}
	for _, r := range c.ANumber {
		if r < '0' || r > '9' {
			return errors.New("a-number has a character other than a digit")
		}
	}
	if c.FamilyName != "" {
		if err := checkText("family name", c.FamilyName, maxNameLen); err != nil {
			return err
		}
	}
	if c.GivenName != "" {
		if err := checkText("given name", c.GivenName, maxNameLen); err != nil {
			return err
		}
	}
	if _, err := birthDay(c.DateOfBirth); err != nil {
		return err
	}
	return checkText("office", c.Office, maxOfficeLen)
}

// decodeCardClaim reads the card claim's map into c.
func decodeCardClaim(raw cbor.RawMessage, c *Card) error {
	if majorType(raw) != cborMap {
		return errors.New("card claim is not a map")
	}
	var cc cardClaim
	if err := decMode.Unmarshal(raw, &cc); err != nil {
		return fmt.Errorf("decode card claim: %w", err)
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
		opt  bool
	}{
		{"a-number", cc.ANumber, &c.ANumber, false},
		{"family name", cc.FamilyName, &c.FamilyName, true},
		{"given name", cc.GivenName, &c.GivenName, true},
		{"office", cc.Office, &c.Office, false},
	} {
		switch {
		case f.src != nil && *f.src == "":
			return fmt.Errorf("%s is present but empty", f.name)
		case f.src != nil:
			*f.dst = *f.src
		case !f.opt:
			return fmt.Errorf("no %s", f.name)
		}
	}
	if cc.BirthDate == nil {
		return errors.New("no date of birth")
	}
	dob, err := birthDate(*cc.BirthDate)
	if err != nil {
		return err
	}
	c.DateOfBirth = dob
	return checkCard(c)
}

// encodeClaims is the CWT claims map of an issued card, in CBOR core
// deterministic encoding.
func encodeClaims(iss string, cti []byte, c *Card) ([]byte, error) {
	dob, err := birthDay(c.DateOfBirth)
	if err != nil {
		return nil, err
	}
	fields := map[int]any{
		cardANumber:   c.ANumber,
		cardBirthDate: dob,
		cardOffice:    c.Office,
	}
	if c.FamilyName != "" {
		fields[cardFamilyName] = c.FamilyName
	}
	if c.GivenName != "" {
		fields[cardGivenName] = c.GivenName
	}
	claims := map[int]any{
		claimIss:  iss,
		claimExp:  c.ExpiresAt.Unix(),
		claimIat:  c.IssuedAt.Unix(),
		claimCti:  cti,
		claimCard: fields,
	}
	return encMode.Marshal(claims)
}
