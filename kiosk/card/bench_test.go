package card

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"
)

// The figure of ARCHITECTURE.md §8: Verify of a full ES256 card costs at most
// 1.2 times its floor, a bare signature check. BenchmarkVerify reports the
// figure itself as "ratio", from blocks of Verify calls timed alternately
// with blocks of the floor, so that a shared or throttled CPU slows both
// alike; its ns/op, B/op and allocs/op are Verify's alone. To compare the
// two benchmarks run apart:
//
//	go test -run '^$' -bench 'Verify$|SignatureOnly$' -benchmem -count 10 -benchtime 2s ./kiosk/card > new.txt
//	benchstat new.txt

// floorBlock is how many calls of each kind BenchmarkVerify times in a row.
const floorBlock = 32

// sigFloor is the floor of Verify for one payload: SHA-256 over its
// Sig_structure and one ecdsa.Verify, nothing else.
type sigFloor struct {
	tbs    []byte
	pub    *ecdsa.PublicKey
	rr, ss *big.Int
}

func newSigFloor(b *testing.B, k testKey, payload string) *sigFloor {
	b.Helper()
	_, raw := unwrap(b, payload)
	m, err := decodeSign1(raw)
	if err != nil {
		b.Fatal(err)
	}
	tbs, err := m.toBeSigned()
	if err != nil {
		b.Fatal(err)
	}
	return &sigFloor{
		tbs: tbs,
		pub: k.signer.Public().(*ecdsa.PublicKey),
		rr:  new(big.Int).SetBytes(m.signature[:32]),
		ss:  new(big.Int).SetBytes(m.signature[32:]),
	}
}

func (f *sigFloor) check(b *testing.B) {
	digest := sha256.Sum256(f.tbs)
	if !ecdsa.Verify(f.pub, digest[:], f.rr, f.ss) {
		b.Fatal("ecdsa.Verify = false")
	}
}

// BenchmarkVerify is the whole of Verify on a full ES256 card. Besides its
// own figures it reports floor-ns/op, the floor timed alongside it, and
// ratio, Verify's time over the floor's.
func BenchmarkVerify(b *testing.B) {
	k := keyFor(b, AlgES256, "issuer")
	payload := issue(b, k, fullCard())
	v := &Verifier{Trust: k.trust(b), Revocations: NewRevocations(1)}
	floor := newSigFloor(b, k, payload)

	var verifyTime, floorTime time.Duration
	var verifyN, floorN int
	pending := 0 // Verify calls since the floor last ran
	blockStart := time.Now()
	runFloor := func() {
		verifyTime += time.Since(blockStart)
		verifyN += pending
		b.StopTimer()
		start := time.Now()
		for range pending {
			floor.check(b)
		}
		floorTime += time.Since(start)
		floorN += pending
		pending = 0
		b.StartTimer()
		blockStart = time.Now()
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(payload, t0); r.Status != Valid {
			b.Fatalf("Verify() = %s; want valid", r.Status)
		}
		if pending++; pending == floorBlock {
			runFloor()
		}
	}
	if pending > 0 {
		runFloor()
	}
	if verifyN > 0 && floorN > 0 {
		perVerify := float64(verifyTime.Nanoseconds()) / float64(verifyN)
		perFloor := float64(floorTime.Nanoseconds()) / float64(floorN)
		b.ReportMetric(perFloor, "floor-ns/op")
		b.ReportMetric(perVerify/perFloor, "ratio")
	}
}

// BenchmarkSignatureOnly is the floor of BenchmarkVerify on its own: hashing
// the same Sig_structure and one ecdsa.Verify, nothing else.
func BenchmarkSignatureOnly(b *testing.B) {
	k := keyFor(b, AlgES256, "issuer")
	floor := newSigFloor(b, k, issue(b, k, fullCard()))
	b.ReportAllocs()
	for b.Loop() {
		floor.check(b)
	}
}

// TestSigStructure checks the hand-built Sig_structure against the CBOR
// library's core deterministic encoding, across each length of head.
func TestSigStructure(t *testing.T) {
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536} {
		m := &sign1{protected: bytes.Repeat([]byte{0xa1}, n%300), payload: bytes.Repeat([]byte{7}, n)}
		got, err := m.toBeSigned()
		if err != nil {
			t.Fatal(err)
		}
		want, err := encMode.Marshal([]any{"Signature1", m.protected, []byte{}, m.payload})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("toBeSigned(payload of %d bytes) = %.40x…; want %.40x…", n, got, want)
		}
	}
}

// TestBstr checks the byte-string reader on heads of each length and on
// what it must refuse.
func TestBstr(t *testing.T) {
	for _, n := range []int{0, 23, 24, 255, 256, 65536} {
		raw, err := encMode.Marshal(bytes.Repeat([]byte{9}, n))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := bstr(raw); err != nil || len(b) != n {
			t.Errorf("bstr(%d-byte string) = %d bytes, %v; want %d", n, len(b), err, n)
		}
		if _, err := bstr(raw[:len(raw)-1]); n > 0 && err == nil {
			t.Errorf("bstr(%d-byte string cut short) = nil error; want an error", n)
		}
		if _, err := bstr(append(raw, 0)); err == nil {
			t.Errorf("bstr(%d-byte string and a byte) = nil error; want an error", n)
		}
	}
	for _, raw := range [][]byte{nil, {0x60}, {0x5f, 0x40, 0xff}, {0x5c}, {0x58}, {0x59, 0x00}, {0x5b, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := bstr(raw); err == nil {
			t.Errorf("bstr(%x) = nil error; want an error", raw)
		}
	}
}
