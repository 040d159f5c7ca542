package card

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"
	"time"
)

// The QR length targets of ARCHITECTURE.md §8, for a full ES256 card with
// names of 16 and 10 letters and for a minimal one. They are properties of
// the format (its encoding and Issue's choice of zlib block), so they are
// asserted, not benchmarked.
const (
	maxFullPayloadLen    = 300
	maxMinimalPayloadLen = 240
)

func TestPayloadLength(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	i := &Issuer{Name: "SDC-NYC", Signer: k.signer, KID: KIDOfCertificate(k.cert)}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	full := Card{
		Serial:      "8f3a0c61d2b7e954", // 8 bytes, as Issue draws
		IssuedAt:    at,
		ExpiresAt:   at.AddDate(5, 0, 0),
		ANumber:     "204518377",
		FamilyName:  "Wojciechowskaite", // 16 letters
		GivenName:   "Margherita",       // 10 letters
		DateOfBirth: "1987-11-23",
		Office:      "NYC",
	}
	minimal := full
	minimal.FamilyName, minimal.GivenName = "", ""

	for _, tt := range []struct {
		name string
		card Card
		max  int
	}{
		{"full", full, maxFullPayloadLen},
		{"minimal", minimal, maxMinimalPayloadLen},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// An ECDSA signature is random, and how well deflate does
			// with it varies: take the longest of several.
			longest := 0
			for range 20 {
				p, err := i.Issue(tt.card)
				if err != nil {
					t.Fatal(err)
				}
				if r := (&Verifier{Trust: k.trust(t)}).Verify(p, at); r.Status != Valid {
					t.Fatalf("Verify(%s card) = %s (%v); want valid", tt.name, r.Status, r.Err)
				}
				longest = max(longest, len(p))
			}
			if longest > tt.max {
				t.Errorf("len(Issue(%s card)) = %d; want ≤ %d", tt.name, longest, tt.max)
			}
			t.Logf("%s card: %d characters (target ≤ %d)", tt.name, longest, tt.max)
		})
	}
}

// TestZlibStored checks the stored form Issue falls back on against Go's
// inflater, across a block boundary too.
func TestZlibStored(t *testing.T) {
	for _, n := range []int{0, 1, 170, 0xffff, 0xffff + 1, 2*0xffff + 3} {
		raw := make([]byte, n)
		for j := range raw {
			raw[j] = byte(j * 7)
		}
		z := zlibStored(raw)
		if want := 2 + n + 5*max(1, (n+0xffff-1)/0xffff) + 4; len(z) != want {
			t.Errorf("len(zlibStored(%d bytes)) = %d; want %d", n, len(z), want)
		}
		zr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("zlib.NewReader(zlibStored(%d bytes)) = %v", n, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("inflating zlibStored(%d bytes) = %d bytes, %v; want the same bytes", n, len(got), err)
		}
	}
}
