// Package cardtest holds what tests of the card, the lists, the card
// commands and the daemon need and the card package cannot make: an issuer
// certificate of a key no card may be signed with, which a trust list may
// still carry. It imports nothing of ours, so that package card's own
// tests can use it too.
package cardtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// P384Certificate is a self-signed certificate of an ECDSA P-384 key, as
// some countries' EU DCC test cases carry: a key no card may be signed
// with. card.GenerateKey and "kiosk card keygen" make none.
func P384Certificate(t testing.TB) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(384), Subject: pkix.Name{CommonName: "P-384 issuer"},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
