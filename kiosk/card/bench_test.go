package card

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// BenchmarkVerify is the whole of Verify on a full ES256 card; its floor is
// BenchmarkSignatureOnly.
func BenchmarkVerify(b *testing.B) {
	k := keyFor(b, AlgES256, "issuer")
	payload := issue(b, k, fullCard())
	v := &Verifier{Trust: k.trust(b), Revocations: NewRevocations(1)}
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(payload, t0); r.Status != Valid {
			b.Fatalf("Verify() = %s; want valid", r.Status)
		}
	}
}

// BenchmarkSignatureOnly is the floor of BenchmarkVerify: hashing the same
// Sig_structure and one ecdsa.Verify, nothing else.
func BenchmarkSignatureOnly(b *testing.B) {
	k := keyFor(b, AlgES256, "issuer")
	_, raw := unwrap(b, issue(b, k, fullCard()))
	m, err := decodeSign1(raw)
	if err != nil {
		b.Fatal(err)
	}
	tbs, err := m.toBeSigned()
	if err != nil {
		b.Fatal(err)
	}
	pub := k.signer.Public().(*ecdsa.PublicKey)
	rr := new(big.Int).SetBytes(m.signature[:32])
	ss := new(big.Int).SetBytes(m.signature[32:])
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(tbs)
		if !ecdsa.Verify(pub, digest[:], rr, ss) {
			b.Fatal("ecdsa.Verify = false")
		}
	}
}
