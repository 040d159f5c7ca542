package card

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"
)

// The worked example of FORMAT.md; keep the two in step.
const (
	exampleCOSE = "d2844da201270448a050837d85070582a05855a5016b5344432d4558414d504c45041a6b36ec80061a6955b90007480011223344556677" +
		"3a00010000a5016930313233343536373802674578616d706c650364416c6578046a313938302d30322d3239056358464f" +
		"58400ab2a2dc318899e23c868cafbcae94f71d45d24bca62bc461b5771f681e300c7b63c16d4381b5ea1753650b2c98569ea43ef001afe76471ae5bc8db7f2e55e03"
	examplePayload = "SDC1:NCFZ30+10FFWTWGSLK/-478918A3*F.*05NGN7BV%KPPDFS8OW537B$Y9+S9FN0-ODJ+TWY0AEDKHNJ-0H00PE4XS8-.C/E7V50U30180746QF60R6J%6S37M2D$9FQ$DTVDDJ08C8B$C5P01A6T473W5KF6WF6TU087BH1AE48AQMT$R4CH1RSJ0HX9M73M AV9$87Q9VLC$%8K2BF7VHVS6BP$Q7D$QVK3NIK:%64RM/%GVRTT9UPI3*.E0I3T$NKBN%:S4H0000FGWY88N+7"
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
	if len(examplePayload) != 284 {
		t.Errorf("len(examplePayload) = %d; want 284 as FORMAT.md says", len(examplePayload))
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
