package card

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// AnyOffice in a trust list entry's offices lets its key issue for any office.
const AnyOffice = "*"

// ErrRollback is what CheckSeq wraps: a list older than the one held.
var ErrRollback = errors.New("list rollback")

// CheckSeq refuses a list of the given kind ("trust list", "revocation
// list") whose sequence number got is lower than held, the highest the kiosk
// has accepted: an attacker replaying an old, validly signed list must not
// bring back a withdrawn key or a revoked card. An equal seq is the same list
// loaded again.
func CheckSeq(kind string, held, got uint64) error {
	if got < held {
		return fmt.Errorf("%s seq %d is lower than seq %d already accepted: %w", kind, got, held, ErrRollback)
	}
	return nil
}

// TrustList is the signed list of issuer keys a kiosk trusts (see FORMAT.md,
// "Trust list"): each key limited to one issuing authority, a window of
// issue times and a set of offices.
type TrustList struct {
	Seq      uint64    // grows with every edition; a kiosk refuses a lower one
	IssuedAt time.Time // when the list was signed (whole seconds are kept)
	Entries  []TrustEntry
}

// TrustEntry is one trusted issuer key and what it may sign.
type TrustEntry struct {
	Issuer      string            // the cards' iss
	Certificate *x509.Certificate // the key's certificate, or nil for a bare key
	PublicKey   crypto.PublicKey  // the key; with a Certificate, its key (or nil when signing)

	// The card's iat must lie within [NotBefore, NotAfter] (whole seconds).
	NotBefore, NotAfter time.Time

	// The office codes the key may issue for; AnyOffice is any.
	Offices []string
}

// trustListDoc is the payload of a signed trust list, with the integer
// keys FORMAT.md documents. Pointers tell a missing key from a zero value;
// unknown keys are ignored.
type trustListDoc struct {
	Seq      *uint64          `cbor:"1,keyasint"`
	IssuedAt *int64           `cbor:"2,keyasint"`
	Entries  *[]trustEntryDoc `cbor:"3,keyasint"`
}

type trustEntryDoc struct {
	Iss       *string  `cbor:"1,keyasint"`
	Cert      []byte   `cbor:"2,keyasint,omitempty"`
	SPKI      []byte   `cbor:"3,keyasint,omitempty"`
	NotBefore *int64   `cbor:"4,keyasint"`
	NotAfter  *int64   `cbor:"5,keyasint"`
	Offices   []string `cbor:"6,keyasint"`
}

// Sign checks the list and signs it with the root key, as a document of
// ContentTypeTrustList. IssuedAt is required. A key no card may be signed
// with (CheckKey) is signed into the list all the same: kiosks skip it.
func (l *TrustList) Sign(root crypto.Signer) ([]byte, error) {
	if l.IssuedAt.IsZero() {
		return nil, errors.New("sign trust list: no issue time")
	}
	seq, iat := l.Seq, l.IssuedAt.Unix()
	entries := make([]trustEntryDoc, 0, len(l.Entries))
	for i, e := range l.Entries {
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("sign trust list: entry %d: %w", i, err)
		}
		d := trustEntryDoc{Iss: &e.Issuer, Offices: e.Offices}
		if e.Certificate != nil {
			d.Cert = e.Certificate.Raw
		} else {
			spki, err := x509.MarshalPKIXPublicKey(e.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("sign trust list: entry %d: %w", i, err)
			}
			d.SPKI = spki
		}
		nb, na := e.NotBefore.Unix(), e.NotAfter.Unix()
		d.NotBefore, d.NotAfter = &nb, &na
		entries = append(entries, d)
	}
	data, err := signDocument(root, ContentTypeTrustList, trustListDoc{Seq: &seq, IssuedAt: &iat, Entries: &entries})
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	return data, nil
}

// OpenTrustList verifies data as a trust list signed by root and decodes it.
// Every entry is checked as Sign checks it, so Trust on the result only fails
// for a list changed since. An entry whose key no card may be signed with
// is kept, for Trust to skip.
func OpenTrustList(data []byte, root crypto.PublicKey) (*TrustList, error) {
	var doc trustListDoc
	if err := openDocument(data, root, ContentTypeTrustList, &doc); err != nil {
		return nil, fmt.Errorf("open trust list: %w", err)
	}
	if doc.Seq == nil || doc.IssuedAt == nil || doc.Entries == nil {
		return nil, errors.New("open trust list: seq, issued_at and entries are required")
	}
	l := &TrustList{Seq: *doc.Seq, IssuedAt: time.Unix(*doc.IssuedAt, 0).UTC()}
	for i, d := range *doc.Entries {
		e, err := d.entry()
		if err != nil {
			return nil, fmt.Errorf("open trust list: entry %d: %w", i, err)
		}
		l.Entries = append(l.Entries, e)
	}
	return l, nil
}

// entry decodes and checks one entry of a signed list.
func (d trustEntryDoc) entry() (TrustEntry, error) {
	if d.Iss == nil || d.NotBefore == nil || d.NotAfter == nil || d.Offices == nil {
		return TrustEntry{}, errors.New("iss, not_before, not_after and offices are required")
	}
	e := TrustEntry{
		Issuer:    *d.Iss,
		NotBefore: time.Unix(*d.NotBefore, 0).UTC(),
		NotAfter:  time.Unix(*d.NotAfter, 0).UTC(),
		Offices:   d.Offices,
	}
	switch {
	case d.Cert != nil && d.SPKI != nil:
		return TrustEntry{}, errors.New("both cert and spki")
	case d.Cert != nil:
		cert, err := x509.ParseCertificate(d.Cert)
		if err != nil {
			return TrustEntry{}, fmt.Errorf("cert: %w", err)
		}
		e.Certificate, e.PublicKey = cert, cert.PublicKey
	case d.SPKI != nil:
		pub, err := x509.ParsePKIXPublicKey(d.SPKI)
		if err != nil {
			return TrustEntry{}, fmt.Errorf("spki: %w", err)
		}
		e.PublicKey = pub
	default:
		return TrustEntry{}, errors.New("neither cert nor spki")
	}
	if err := e.check(); err != nil {
		return TrustEntry{}, err
	}
	return e, nil
}

// check reports what is wrong with e, if anything.
func (e *TrustEntry) check() error {
	if err := checkText("iss", e.Issuer, maxIssuerLen); err != nil {
		return err
	}
	// Whether a card may be signed with the key is CheckKey's question,
	// not this one's: a list may hold keys this kiosk skips.
	switch {
	case e.Certificate != nil:
		if len(e.Certificate.Raw) == 0 {
			return errors.New("certificate has no DER")
		}
		if e.PublicKey != nil && !keyEqual(e.PublicKey, e.Certificate.PublicKey) {
			return errors.New("public key is not the certificate's")
		}
	case e.PublicKey == nil:
		return errors.New("no certificate or public key")
	default:
		// Something that is no public key at all has no kid.
		if _, err := x509.MarshalPKIXPublicKey(e.PublicKey); err != nil {
			return fmt.Errorf("public key: %w", err)
		}
	}
	if e.NotBefore.IsZero() || e.NotAfter.IsZero() {
		return errors.New("not-before and not-after are required")
	}
	if e.NotAfter.Before(e.NotBefore) {
		return errors.New("not-after is before not-before")
	}
	if len(e.Offices) == 0 {
		return errors.New("no office")
	}
	for _, o := range e.Offices {
		if err := checkText("office", o, maxOfficeLen); err != nil {
			return err
		}
	}
	return nil
}

// CheckKey reports why no card may be signed with e's key — a type or size
// Verify does not take, such as ECDSA on P-384 — or nil if cards may. A
// trust list may hold such a key (it may serve other verifiers too):
// Trust skips it and keeps the others.
func (e *TrustEntry) CheckKey() error {
	pub := e.PublicKey
	if e.Certificate != nil {
		pub = e.Certificate.PublicKey
	}
	_, err := algorithmOf(pub)
	return err
}

// KID is the kid cards signed with e's key carry: KIDOfCertificate for an
// entry with a certificate, else KIDOfKey.
func (e *TrustEntry) KID() ([]byte, error) {
	if e.Certificate != nil {
		return KIDOfCertificate(e.Certificate), nil
	}
	return KIDOfKey(e.PublicKey)
}

// Trust returns the keys of the list, each limited to its entry's issuer,
// window and offices. A key no card may be signed with (CheckKey) is
// skipped, and listed in the result's Skipped; an entry that is malformed
// is an error.
func (l *TrustList) Trust() (*Trust, error) {
	t := NewTrust()
	for i := range l.Entries {
		e := &l.Entries[i]
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("trust list: entry %d: %w", i, err)
		}
		kid, err := e.KID()
		if err != nil {
			return nil, fmt.Errorf("trust list: entry %d: %w", i, err)
		}
		if err := e.CheckKey(); err != nil {
			t.skip(kid, e.Issuer, err)
			continue
		}
		pub := e.PublicKey
		if e.Certificate != nil {
			pub = e.Certificate.PublicKey
		}
		k := trustedKey{
			pub:       pub,
			limited:   true,
			issuer:    e.Issuer,
			notBefore: e.NotBefore.Truncate(time.Second),
			notAfter:  e.NotAfter.Truncate(time.Second),
			offices:   slices.Clone(e.Offices),
		}
		if err := t.addKey(kid, k); err != nil {
			return nil, fmt.Errorf("trust list: entry %d: %w", i, err)
		}
	}
	return t, nil
}

// keyEqual reports whether two public keys are the same key.
func keyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
