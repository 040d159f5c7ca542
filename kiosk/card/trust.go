package card

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Trust is the set of issuer public keys cards are verified against, indexed
// by kid. Several keys may share a kid (a kid is only 8 bytes); Verify tries
// each. A Trust is not safe for concurrent modification; build it, then
// share it read-only.
type Trust struct {
	keys map[string][]crypto.PublicKey // by string(kid)
	n    int
}

// NewTrust returns an empty Trust.
func NewTrust() *Trust {
	return &Trust{keys: make(map[string][]crypto.PublicKey)}
}

// AddCertificate trusts cert's public key under KIDOfCertificate(cert). The
// certificate's validity dates and extensions are not checked: the kiosk
// trusts what its (signed) trust list says, and the card carries its own
// validity window.
func (t *Trust) AddCertificate(cert *x509.Certificate) error {
	if cert == nil || len(cert.Raw) == 0 {
		return errors.New("add certificate: no certificate")
	}
	return t.add(KIDOfCertificate(cert), cert.PublicKey)
}

// AddKey trusts a bare public key under KIDOfKey(pub).
func (t *Trust) AddKey(pub crypto.PublicKey) error {
	kid, err := KIDOfKey(pub)
	if err != nil {
		return fmt.Errorf("add key: %w", err)
	}
	return t.add(kid, pub)
}

func (t *Trust) add(kid []byte, pub crypto.PublicKey) error {
	if _, err := algorithmOf(pub); err != nil {
		return fmt.Errorf("add key %x: %w", kid, err)
	}
	if t.keys == nil {
		t.keys = make(map[string][]crypto.PublicKey)
	}
	for _, k := range t.keys[string(kid)] {
		if eq, ok := k.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pub) {
			return nil
		}
	}
	t.keys[string(kid)] = append(t.keys[string(kid)], pub)
	t.n++
	return nil
}

// Len is the number of distinct trusted keys.
func (t *Trust) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// lookup returns the keys trusted under kid.
func (t *Trust) lookup(kid []byte) []crypto.PublicKey {
	if t == nil {
		return nil
	}
	return t.keys[string(kid)]
}

// ParseTrustPEM reads a Trust from PEM: "CERTIFICATE" blocks (trusted under
// their certificate kid) and "PUBLIC KEY" blocks (SubjectPublicKeyInfo,
// trusted under their key kid). Any other block, any unparsable or
// unsupported key, or no block at all is an error.
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
			if err := t.AddCertificate(cert); err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
			}
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse trust: block %d: %w", i, err)
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
		return nil, errors.New("parse trust: no CERTIFICATE or PUBLIC KEY PEM block")
	}
	return t, nil
}
