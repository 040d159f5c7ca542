package card

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"
)

// The worked example of FORMAT.md; keep the two in step.
const (
	exampleCOSE = "d2844da201270448a050837d85070582a0584da5016b5344432d4558414d504c45041a6b36ec80061a6955b90007480011223344556677" +
		"3a00010000a5016930313233343536373802674578616d706c650364416c657804190e7f056358464f" +
		"5840c16f04535d4ad79152d3675ad9f09729a73ed1c202b66ba608b8a895c9f4eda98a3cf837add9ade8301cdb8359678d39b13e4d7569a6b0c399b077cce7bfec07"
	examplePayload = "SDC1:V7FD90320FFWTWGSLK/-478918A3*F.*05NGF7BV%KPPDFS8OW537B$Y9+S9FN0-ODJ+TWY0AEDKHNJ-0H00PE4XS8-.C/E7V50U30180746QF60R6J%6S37M2D$9FQ$DTVDDJ08C8B$CEN0L$1TU087BH1AH88P1EBOAYK9WGITWQ$LBVIU/B5G.7VNOY2NO:KMFN5.IG/UMJL%V7X17FNR+FT7T3ARG44D9D7J*7.$EC3LXWO+DMU+P$BO5+0694S0"
)

func exampleInputs() (ed25519.PrivateKey, Card) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed), Card{
		Serial:      "0011223344556677",
		IssuedAt:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpiresAt:   time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		ANumber:     "012345678",
		FamilyName:  "Example",
		GivenName:   "Alex",
		DateOfBirth: "1980-02-29",
		Office:      "XFO",
	}
}

func TestFormatExample(t *testing.T) {
	key, c := exampleInputs()
	kid, err := KIDOfKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(kid); got != "a050837d85070582" {
		t.Errorf("KIDOfKey(example key) = %s; want a050837d85070582", got)
	}
	p, err := (&Issuer{Name: "SDC-EXAMPLE", Signer: key}).Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, raw := unwrap(t, p); hex.EncodeToString(raw) != exampleCOSE {
		t.Errorf("Issue(example) COSE = %x; want %s", raw, exampleCOSE)
	}
	// The zlib stream is one stored block, so the whole payload is exact.
	if p != examplePayload {
		t.Errorf("Issue(example) = %s; want %s", p, examplePayload)
	}
	if len(examplePayload) != 265 {
		t.Errorf("len(examplePayload) = %d; want 265 as FORMAT.md says", len(examplePayload))
	}

	tr := NewTrust()
	if err := tr.AddKey(key.Public()); err != nil {
		t.Fatal(err)
	}
	r := (&Verifier{Trust: tr}).Verify(examplePayload, c.IssuedAt)
	c.Issuer = "SDC-EXAMPLE"
	if r.Status != Valid || r.Card == nil || *r.Card != c {
		t.Errorf("Verify(example) = %s %+v (%v); want valid %+v", r.Status, r.Card, r.Err, c)
	}
}
