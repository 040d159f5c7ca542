package card

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/veraison/go-cose"
)

// Trust is the set of issuer public keys cards are verified against, indexed
// by kid. Several keys may share a kid (a kid is only 8 bytes); Verify tries
// each. A key from a signed trust list (TrustList.Trust) is limited to its
// entry's issuer, window and offices; a key added with AddCertificate or
// AddKey is not limited. A Trust is not safe for concurrent modification;
// build it, then share it read-only.
type Trust struct {
	keys    map[string][]trustedKey // by string(kid)
	n       int
	skipped []SkippedKey
}

// SkippedKey is a key of a trust file or trust list that no card may be
// signed with — a type or size Verify does not take, such as the P-384
// certificates some countries' EU DCC test cases carry. It is left out, so
// that one such key does not stop the kiosk trusting the others; a card
// carrying its kid is an unknown issuer.
type SkippedKey struct {
	KID    []byte // nil if not even its kid could be computed
	Issuer string // the trust list entry's; "" for a PEM key
	Err    error  // why the key cannot be used
}

// trustedKey is a trusted public key and, when it came from a trust list,
// what it may sign.
type trustedKey struct {
	pub     crypto.PublicKey
	limited bool // false: any issuer, any office, any time

	issuer              string
	notBefore, notAfter time.Time // iat must lie within, bounds included
	offices             []string  // "*" is any office
}

// NewTrust returns an empty Trust.
func NewTrust() *Trust {
	return &Trust{keys: make(map[string][]trustedKey)}
}

// AddCertificate trusts cert's public key under KIDOfCertificate(cert), for
// any issuer, office and time. The certificate's validity dates and
// extensions are not checked: the kiosk trusts what its signed trust list
// says, and the card carries its own validity window.
func (t *Trust) AddCertificate(cert *x509.Certificate) error {
	if cert == nil || len(cert.Raw) == 0 {
		return errors.New("add certificate: no certificate")
	}
	return t.add(KIDOfCertificate(cert), cert.PublicKey)
}

// AddKey trusts a bare public key under KIDOfKey(pub), for any issuer,
// office and time.
func (t *Trust) AddKey(pub crypto.PublicKey) error {
	kid, err := KIDOfKey(pub)
	if err != nil {
		return fmt.Errorf("add key: %w", err)
	}
	return t.add(kid, pub)
}

// Skipped returns the keys left out when t was read (ParseTrustPEM,
// TrustList.Trust), in the order they were met; a key met twice is listed
// once.
func (t *Trust) Skipped() []SkippedKey {
	if t == nil {
		return nil
	}
	return slices.Clone(t.skipped)
}

// skip records a key left out.
func (t *Trust) skip(kid []byte, issuer string, err error) {
	for _, s := range t.skipped {
		if bytes.Equal(s.KID, kid) && s.Issuer == issuer {
			return
		}
	}
	t.skipped = append(t.skipped, SkippedKey{KID: kid, Issuer: issuer, Err: err})
}

// skippedKID returns the key left out under kid, if one was.
func (t *Trust) skippedKID(kid []byte) (SkippedKey, bool) {
	if t == nil || kid == nil {
		return SkippedKey{}, false
	}
	for _, s := range t.skipped {
		if bytes.Equal(s.KID, kid) {
			return s, true
		}
	}
	return SkippedKey{}, false
}

// add trusts pub under kid, unlimited.
func (t *Trust) add(kid []byte, pub crypto.PublicKey) error {
	return t.addKey(kid, trustedKey{pub: pub})
}

func (t *Trust) addKey(kid []byte, k trustedKey) error {
	if _, err := algorithmOf(k.pub); err != nil {
		return fmt.Errorf("add key %x: %w", kid, err)
	}
	if t.keys == nil {
		t.keys = make(map[string][]trustedKey)
	}
	for _, have := range t.keys[string(kid)] {
		if have.same(k) {
			return nil
		}
	}
	t.keys[string(kid)] = append(t.keys[string(kid)], k)
	t.n++
	return nil
}

// same reports whether k and o are the same key with the same limits.
func (k trustedKey) same(o trustedKey) bool {
	return keyEqual(k.pub, o.pub) &&
		k.limited == o.limited && k.issuer == o.issuer &&
		k.notBefore.Equal(o.notBefore) && k.notAfter.Equal(o.notAfter) &&
		slices.Equal(k.offices, o.offices)
}

// Len is the number of trusted keys; a key trusted twice with different
// limits counts twice.
func (t *Trust) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// lookup returns the keys trusted under kid.
func (t *Trust) lookup(kid []byte) []trustedKey {
	if t == nil {
		return nil
	}
	return t.keys[string(kid)]
}

// signers returns those of keys that m's signature verifies with: usually
// one, but the same key may be listed under several limits.
func (m *sign1) signers(keys []trustedKey) ([]trustedKey, error) {
	tbs, err := m.toBeSigned()
	if err != nil {
		return nil, err
	}
	var ok []trustedKey
	tried := 0
	for _, k := range keys {
		v, err := cose.NewVerifier(m.alg, k.pub)
		if err != nil {
			continue // a key of another type under the same kid
		}
		tried++
		if v.Verify(tbs, m.signature) == nil {
			ok = append(ok, k)
		}
	}
	switch {
	case len(ok) > 0:
		return ok, nil
	case tried == 0:
		return nil, fmt.Errorf("no trusted %s key", m.alg)
	}
	return nil, fmt.Errorf("%s signature does not verify", m.alg)
}

// permits reports why k may not have signed c, or nil if it may: c's
// issuer must be k's, c's iat within k's window, c's office among k's.
// The error names no personal data (not the office).
func (k trustedKey) permits(c *Card) error {
	if !k.limited {
		return nil
	}
	if c.Issuer != k.issuer {
		return fmt.Errorf("key of issuer %q signed a card of issuer %q", k.issuer, c.Issuer)
	}
	if c.IssuedAt.Before(k.notBefore) || c.IssuedAt.After(k.notAfter) {
		return fmt.Errorf("card issued at %s, outside the key's window %s to %s",
			c.IssuedAt.UTC().Format(time.RFC3339), k.notBefore.UTC().Format(time.RFC3339), k.notAfter.UTC().Format(time.RFC3339))
	}
	if !slices.Contains(k.offices, AnyOffice) && !slices.Contains(k.offices, c.Office) {
		return errors.New("key may not issue cards for the card's office")
	}
	return nil
}

// authorize reports whether one of signers, the keys c's signature
// verified with, may have signed c; if none may, it says why not the first.
func authorize(signers []trustedKey, c *Card) error {
	var first error
	for _, k := range signers {
		err := k.permits(c)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return errors.New("no key verified the signature")
	}
	return first
}

// ParseTrustPEM reads a Trust from PEM: "CERTIFICATE" blocks (trusted under
// their certificate kid) and "PUBLIC KEY" blocks (SubjectPublicKeyInfo,
// trusted under their key kid). A key of a type or size no card may use is
// skipped (Trust.Skipped) and the others kept. Any other block, an
// unparsable certificate or key, or no usable key at all is an error.
func ParseTrustPEM(data []byte) (*Trust, error) {
	t := NewTrust()
	// pem.Decode silently skips a block it cannot decode: count them instead.
	begins := bytes.Count(data, []byte("-----BEGIN "))
	blocks := 0
	for i := 1; ; i++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
			}
			if _, err := algorithmOf(cert.PublicKey); err != nil {
				t.skip(KIDOfCertificate(cert), "", err)
				continue
			}
			if err := t.AddCertificate(cert); err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
			}
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
			}
			if _, err := algorithmOf(pub); err != nil {
				// The block is the SubjectPublicKeyInfo DER KIDOfKey hashes,
				// whatever the key's type.
				sum := sha256.Sum256(b.Bytes)
				t.skip(sum[:8], "", err)
				continue
			}
			if err := t.AddKey(pub); err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("parse trust: block %d: unexpected PEM type %q", i, b.Type)
		}
	}
	if blocks != begins || len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("parse trust: unparsable PEM data")
	}
	if t.Len() == 0 {
		if len(t.skipped) > 0 {
			return nil, fmt.Errorf("parse trust: no key a card may be signed with: %d skipped, the first for %w",
				len(t.skipped), t.skipped[0].Err)
		}
		return nil, errors.New("parse trust: no CERTIFICATE or PUBLIC KEY PEM block")
	}
	return t, nil
}
