package card

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A reference card's QR holds only a configured URL prefix and a random
// reference; the card itself is an entry of the roster, sealed under a key
// only the reference gives (see FORMAT.md, "Reference cards"). The roster
// names nobody: without a reference an entry cannot be found or opened.

// Reference syntax: Crockford base32 upper case, so a reference fits QR
// alphanumeric mode.
const (
	referenceAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	// MinReferenceLen is the shortest reference accepted: 26 characters of
	// base32 are the fewest that can carry 128 random bits.
	MinReferenceLen = 26
	MaxReferenceLen = 64
	// newReferenceLen is the length NewReference draws: 130 bits.
	newReferenceLen = 26
)

// Roster cryptography, versioned by its domain strings.
const (
	rosterLookupDomain = "sdc-roster-lookup-v1"
	rosterSealInfo     = "sdc-roster-seal-v1"
	// maxRosterPlaintext bounds a sealed card: a card with every field at
	// its maximum length encodes in about 560 bytes.
	maxRosterPlaintext = 1024
	maxRosterSealed    = sealedNonceLen + maxRosterPlaintext + sealedTagLen
)

var referenceEncoding = base32.NewEncoding(referenceAlphabet).WithPadding(base32.NoPadding)

// NewReference returns a new random card reference: 26 characters of
// Crockford base32, 130 random bits.
func NewReference() (string, error) {
	b := make([]byte, (newReferenceLen*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new reference: %w", err)
	}
	return referenceEncoding.EncodeToString(b)[:newReferenceLen], nil
}

// ParseReference returns the canonical form of a card reference: s with
// lower-case letters made upper case, checked to be 26 to 64 characters of
// Crockford base32. The error never quotes s.
func ParseReference(s string) (string, error) {
	if len(s) < MinReferenceLen || len(s) > MaxReferenceLen {
		return "", fmt.Errorf("reference of %d characters, want %d to %d", len(s), MinReferenceLen, MaxReferenceLen)
	}
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
			b[i] = c
		}
		if strings.IndexByte(referenceAlphabet, c) < 0 {
			return "", fmt.Errorf("reference has a character outside Crockford base32 at offset %d", i)
		}
	}
	return string(b), nil
}

// rosterLookup is an entry's lookup key: whether a given reference is in the
// roster, and nothing else.
type rosterLookup = lookupKey

// Roster is a sequence-numbered set of reference cards, each sealed under a
// key derived from its reference (see FORMAT.md). Build it with NewRoster and
// Add, or read it with OpenRoster; then share it read-only: Lookup only reads.
type Roster struct{ sealedSet }

// NewRoster returns an empty roster with a fresh random salt.
func NewRoster(seq uint64, issuedAt time.Time) (*Roster, error) {
	r := &Roster{sealedSet{seq: seq, issuedAt: issuedAt.Truncate(time.Second).UTC(), entries: make(map[rosterLookup][]byte)}}
	if _, err := rand.Read(r.salt[:]); err != nil {
		return nil, fmt.Errorf("new roster: salt: %w", err)
	}
	return r, nil
}

// Next returns the next edition of r: its entries and salt, the sequence
// number one higher, issued at issuedAt. Entries cannot be re-sealed without
// their references, so an edition that keeps them keeps the salt.
func (r *Roster) Next(issuedAt time.Time) *Roster {
	n := &Roster{sealedSet{seq: r.seq + 1, issuedAt: issuedAt.Truncate(time.Second).UTC(), salt: r.salt,
		entries: make(map[rosterLookup][]byte, len(r.entries))}}
	for k, v := range r.entries {
		n.entries[k] = v
	}
	return n
}

// Seq is the roster's sequence number: a kiosk refuses a roster older than
// the one it holds.
func (r *Roster) Seq() uint64 {
	if r == nil {
		return 0
	}
	return r.seq
}

// IssuedAt is when the roster was made, to whole seconds.
func (r *Roster) IssuedAt() time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.issuedAt
}

// Len is the number of entries.
func (r *Roster) Len() int {
	if r == nil {
		return 0
	}
	return len(r.entries)
}

// lookupKey is the first 16 bytes of HMAC-SHA256 keyed with the salt over
// the domain string and the canonical reference.
func (r *Roster) lookupKey(ref string) rosterLookup {
	m := hmac.New(sha256.New, r.salt[:])
	m.Write([]byte(rosterLookupDomain))
	m.Write([]byte(ref))
	var l rosterLookup
	copy(l[:], m.Sum(nil))
	return l
}

// sealKey is the AES-256 key of an entry: HKDF-SHA256 of the canonical
// reference, salted with the roster's salt.
func (r *Roster) sealKey(ref string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(ref), r.salt[:], rosterSealInfo, 32)
}

// aead is AES-256-GCM with the entry's key.
func (r *Roster) aead(ref string) (cipher.AEAD, error) {
	key, err := r.sealKey(ref)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Add seals c into the roster under reference. c.Issuer, c.Serial (hex),
// c.IssuedAt and c.ExpiresAt are required (whole seconds are kept), and the
// card fields are checked as Issue checks them. A reference names one card:
// adding one already present is an error.
func (r *Roster) Add(reference string, c Card) error {
	ref, err := ParseReference(reference)
	if err != nil {
		return fmt.Errorf("roster add: %w", err)
	}
	if err := checkText("issuer", c.Issuer, maxIssuerLen); err != nil {
		return fmt.Errorf("roster add: %w", err)
	}
	cti, err := parseSerial(c.Serial)
	if err != nil {
		return fmt.Errorf("roster add: %w", err)
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return errors.New("roster add: issued-at and expires-at are required")
	}
	if c.ExpiresAt.Unix() <= c.IssuedAt.Unix() {
		return errors.New("roster add: expires-at is not after issued-at")
	}
	if err := checkCard(&c); err != nil {
		return fmt.Errorf("roster add: %w", err)
	}
	plain, err := encodeClaims(c.Issuer, cti, &c)
	if err != nil {
		return fmt.Errorf("roster add: encode card: %w", err)
	}
	if len(plain) > maxRosterPlaintext {
		return fmt.Errorf("roster add: card of %d bytes exceeds %d", len(plain), maxRosterPlaintext)
	}
	if r.entries == nil {
		r.entries = make(map[rosterLookup][]byte)
	}
	l := r.lookupKey(ref)
	if _, dup := r.entries[l]; dup {
		return errors.New("roster add: reference already in the roster")
	}
	aead, err := r.aead(ref)
	if err != nil {
		return fmt.Errorf("roster add: %w", err)
	}
	sealed := make([]byte, sealedNonceLen, sealedNonceLen+len(plain)+aead.Overhead())
	if _, err := rand.Read(sealed); err != nil {
		return fmt.Errorf("roster add: nonce: %w", err)
	}
	r.entries[l] = aead.Seal(sealed, sealed, plain, l[:])
	return nil
}

// Lookup finds the card of reference. It reports false, with no error, for a
// reference not in the roster; an entry that is present but does not open or
// does not hold a valid card is an error, never a card.
func (r *Roster) Lookup(reference string) (*Card, bool, error) {
	ref, err := ParseReference(reference)
	if err != nil {
		return nil, false, fmt.Errorf("roster lookup: %w", err)
	}
	if r == nil {
		return nil, false, nil
	}
	l := r.lookupKey(ref)
	sealed, ok := r.entries[l]
	if !ok {
		return nil, false, nil
	}
	c, err := r.open(ref, l, sealed)
	if err != nil {
		return nil, false, fmt.Errorf("roster lookup: %w", err)
	}
	return c, true, nil
}

// open decrypts and decodes one entry.
func (r *Roster) open(ref string, l rosterLookup, sealed []byte) (*Card, error) {
	if len(sealed) < sealedNonceLen+sealedTagLen {
		return nil, fmt.Errorf("entry of %d bytes is too short", len(sealed))
	}
	aead, err := r.aead(ref)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, sealed[:sealedNonceLen], sealed[sealedNonceLen:], l[:])
	if err != nil {
		return nil, errors.New("entry does not open")
	}
	if majorType(plain) != cborMap {
		return nil, errors.New("entry is not a map")
	}
	var claims cwtClaims
	if err := decMode.Unmarshal(plain, &claims); err != nil {
		return nil, fmt.Errorf("entry: %w", err)
	}
	if claims.Exp == nil || claims.Iat == nil {
		return nil, errors.New("entry: exp or iat missing")
	}
	exp, err := numericDate(claims.Exp)
	if err != nil {
		return nil, fmt.Errorf("entry: exp: %w", err)
	}
	iat, err := numericDate(claims.Iat)
	if err != nil {
		return nil, fmt.Errorf("entry: iat: %w", err)
	}
	c, _, err := readCard(&claims, iat, exp)
	if err != nil {
		return nil, fmt.Errorf("entry: %w", err)
	}
	return c, nil
}

// Sign encodes the roster as a signed document (content type
// ContentTypeRoster) signed by root.
func (r *Roster) Sign(root crypto.Signer) ([]byte, error) {
	return r.sign(root, ContentTypeRoster, "roster")
}

// OpenRoster verifies data as a roster signed by root and decodes it.
// Entries are only opened by Lookup.
func OpenRoster(data []byte, root crypto.PublicKey) (*Roster, error) {
	s, err := openSealedSet(data, root, ContentTypeRoster, "roster", maxRosterPlaintext)
	if err != nil {
		return nil, err
	}
	return &Roster{s}, nil
}

// cutReference reports whether payload starts with one of the configured
// reference prefixes, and returns what follows it.
func (v *Verifier) cutReference(payload string) (string, bool) {
	for _, p := range v.ReferencePrefixes {
		if p == "" {
			continue // an empty prefix would take every payload for a reference
		}
		if rest, ok := strings.CutPrefix(payload, p); ok {
			return rest, true
		}
	}
	return "", false
}

// verifyReference checks a reference card: the reference's syntax (stage
// prefix), the roster lookup, then the validity window, revocation and the
// lists' age as Verify checks a signed card. The root signed the roster, so
// no trust list entry's limits apply.
func (v *Verifier) verifyReference(rest string, at time.Time) Result {
	ref, err := ParseReference(rest)
	if err != nil {
		return failed(Malformed, StagePrefix, err)
	}
	if v.Roster == nil {
		return failed(UnknownIssuer, StageRoster, errors.New("a reference card, but no roster is loaded"))
	}
	c, found, err := v.Roster.Lookup(ref)
	switch {
	case err != nil:
		return failed(BadSignature, StageRoster, err)
	case !found:
		return failed(UnknownIssuer, StageRoster, fmt.Errorf("reference not in roster %d", v.Roster.Seq()))
	}
	// The roster's signature was verified when it was opened, and the entry's
	// AEAD tag binds the card to the reference.
	res := Result{SignatureOK: true, Card: c}
	// A card from the roster has a valid hex serial (readCard made it); an
	// invalid one would revoke nothing, as Revocations.Contains says.
	cti, _ := parseSerial(c.Serial)
	return v.finish(res, at, c.IssuedAt, c.ExpiresAt, "", nil, cti)
}
