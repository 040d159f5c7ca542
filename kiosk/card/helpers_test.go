package card

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// testIssuerName is the iss of test cards.
const testIssuerName = "SDC-TEST"

// t0 is when test cards are issued.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testKey is a generated key and its certificate, made once per algorithm
// (an RSA key takes a while).
type testKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

var (
	testKeysMu sync.Mutex
	testKeys   = map[string]testKey{}
)

// keyFor returns the shared test key for alg and name, generating it the
// first time.
func keyFor(t testing.TB, alg, name string) testKey {
	t.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	id := alg + "/" + name
	if k, ok := testKeys[id]; ok {
		return k
	}
	s, c, err := GenerateKey(alg, name)
	if err != nil {
		t.Fatalf("GenerateKey(%s, %s): %v", alg, name, err)
	}
	k := testKey{s, c}
	testKeys[id] = k
	return k
}

// issuer returns an Issuer for k with its certificate kid.
func (k testKey) issuer() *Issuer {
	return &Issuer{Name: testIssuerName, Signer: k.signer, KID: KIDOfCertificate(k.cert)}
}

// trust returns a Trust of k's certificate.
func (k testKey) trust(t testing.TB) *Trust {
	t.Helper()
	tr := NewTrust()
	if err := tr.AddCertificate(k.cert); err != nil {
		t.Fatalf("AddCertificate: %v", err)
	}
	return tr
}

// fullCard and minimalCard are the two sizes of card, valid from t0 for a year.
func fullCard() Card {
	return Card{
		IssuedAt:    t0,
		ExpiresAt:   t0.AddDate(1, 0, 0),
		ANumber:     "012345678",
		FamilyName:  "Testperson-Ñúñez",
		GivenName:   "Alex",
		DateOfBirth: "1990-01-31",
		Office:      "SFO-1",
	}
}

func minimalCard() Card {
	c := fullCard()
	c.FamilyName, c.GivenName = "", ""
	return c
}

// issue issues c with k or fails the test.
func issue(t testing.TB, k testKey, c Card) string {
	t.Helper()
	p, err := k.issuer().Issue(c)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return p
}

// envelope builds a payload part by part, to make the malformed ones Issue
// never would.
type envelope struct {
	protected   map[any]any // nil: an empty protected header (h'')
	unprotected map[any]any // nil: {}
	claims      []byte      // the COSE payload
	signer      crypto.Signer
	alg         cose.Algorithm
	tags        []uint64 // outermost first
	trailing    []byte   // bytes after the COSE message, inside the zlib stream
}

// standardEnvelope is what Issue makes for c signed by k, built by hand.
func standardEnvelope(t testing.TB, k testKey, c Card) envelope {
	t.Helper()
	alg, err := algorithmOf(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := encodeClaims(testIssuerName, []byte{1, 2, 3, 4, 5, 6, 7, 8}, &c)
	if err != nil {
		t.Fatal(err)
	}
	return envelope{
		protected: map[any]any{1: int64(alg), 4: KIDOfCertificate(k.cert)},
		claims:    claims,
		signer:    k.signer,
		alg:       alg,
		tags:      []uint64{tagCOSESign1},
	}
}

// cose returns the encoded COSE message.
func (e envelope) cose(t testing.TB) []byte {
	t.Helper()
	var prot []byte
	if e.protected != nil {
		var err error
		if prot, err = encMode.Marshal(e.protected); err != nil {
			t.Fatal(err)
		}
	}
	unprot := e.unprotected
	if unprot == nil {
		unprot = map[any]any{}
	}
	m := &sign1{protected: prot, payload: e.claims}
	tbs, err := m.toBeSigned()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cose.NewSigner(e.alg, e.signer)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(rand.Reader, tbs)
	if err != nil {
		t.Fatal(err)
	}
	var v any = []any{prot, unprot, e.claims, sig}
	for i := len(e.tags) - 1; i >= 0; i-- {
		v = cbor.Tag{Number: e.tags[i], Content: v}
	}
	raw, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(raw, e.trailing...)
}

// payload returns the full payload with prefix SDC1:.
func (e envelope) payload(t testing.TB) string {
	t.Helper()
	return wrap(e.cose(t))
}

// wrap compresses raw and adds Base45 and the prefix.
func wrap(raw []byte) string {
	return DefaultPrefix + EncodeBase45(deflate(raw))
}

func deflate(raw []byte) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	return b.Bytes()
}

// unwrap undoes wrap, for a payload known to be good.
func unwrap(t testing.TB, payload string) (compressed, raw []byte) {
	t.Helper()
	compressed, err := DecodeBase45(payload[len(DefaultPrefix):])
	if err != nil {
		t.Fatal(err)
	}
	raw, err = inflate(compressed)
	if err != nil {
		t.Fatal(err)
	}
	return compressed, raw
}
