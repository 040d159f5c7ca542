package card

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

func TestRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgPS256, AlgEdDSA} {
		for _, size := range []struct {
			name string
			card Card
		}{{"full", fullCard()}, {"minimal", minimalCard()}} {
			t.Run(alg+"/"+size.name, func(t *testing.T) {
				k := keyFor(t, alg, "issuer")
				c := size.card
				c.Issuer = "ignored in favour of Issuer.Name"
				payload := issue(t, k, c)
				if !strings.HasPrefix(payload, DefaultPrefix) {
					t.Fatalf("Issue() = %.10q…; want prefix %q", payload, DefaultPrefix)
				}
				v := &Verifier{Trust: k.trust(t)}
				r := v.Verify(payload, t0.Add(time.Hour))
				if r.Status != Valid || r.Stage != StageDone || !r.SignatureOK || r.Err != nil {
					t.Fatalf("Verify(%s card) = %s at %s (%v); want valid at done", size.name, r.Status, r.Stage, r.Err)
				}
				if !bytes.Equal(r.KID, KIDOfCertificate(k.cert)) {
					t.Errorf("Verify().KID = %x; want %x", r.KID, KIDOfCertificate(k.cert))
				}
				want := size.card
				want.Issuer = testIssuerName
				want.Serial = r.Card.Serial
				if len(r.Card.Serial) != 16 || strings.ToLower(r.Card.Serial) != r.Card.Serial {
					t.Errorf("Verify().Card.Serial = %q; want 16 lower-case hex digits", r.Card.Serial)
				}
				if *r.Card != want {
					t.Errorf("Verify().Card = %+v; want %+v", *r.Card, want)
				}
				if got := r.Reason(); got != "card.valid" {
					t.Errorf("Reason() = %q; want card.valid", got)
				}
			})
		}
	}
}

func TestIssueSerial(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	c := fullCard()
	c.Serial = "00ff10"
	r := (&Verifier{Trust: k.trust(t)}).Verify(issue(t, k, c), t0)
	if r.Status != Valid || r.Card.Serial != "00ff10" {
		t.Fatalf("Verify() = %s serial %v; want valid serial 00ff10", r.Status, r.Card)
	}
	// Two cards without a serial get different ones.
	c.Serial = ""
	a := (&Verifier{Trust: k.trust(t)}).Verify(issue(t, k, c), t0)
	b := (&Verifier{Trust: k.trust(t)}).Verify(issue(t, k, c), t0)
	if a.Card.Serial == b.Card.Serial {
		t.Errorf("two random serials are both %s", a.Card.Serial)
	}
	// NewSerial draws one as Issue does, which a card carries as it is.
	s1, err1 := NewSerial()
	s2, err2 := NewSerial()
	if err1 != nil || err2 != nil || len(s1) != len(a.Card.Serial) || s1 == s2 {
		t.Fatalf("NewSerial() = %q, %v and %q, %v; want two different serials of %d hex digits", s1, err1, s2, err2, len(a.Card.Serial))
	}
	c.Serial = s1
	if r := (&Verifier{Trust: k.trust(t)}).Verify(issue(t, k, c), t0); r.Status != Valid || r.Card.Serial != s1 {
		t.Errorf("Verify(a card of serial NewSerial()) = %s serial %v; want valid serial %s", r.Status, r.Card, s1)
	}
}

func TestIssueErrors(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		issuer func(*Issuer)
		card   func(*Card)
	}{
		{"no signer", func(i *Issuer) { i.Signer = nil }, nil},
		{"no name", func(i *Issuer) { i.Name = "" }, nil},
		{"no issued-at", nil, func(c *Card) { c.IssuedAt = time.Time{} }},
		{"no expires-at", nil, func(c *Card) { c.ExpiresAt = time.Time{} }},
		{"exp = iat", nil, func(c *Card) { c.ExpiresAt = c.IssuedAt }},
		{"exp < iat", nil, func(c *Card) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) }},
		{"exp within the same second", nil, func(c *Card) { c.ExpiresAt = c.IssuedAt.Add(time.Millisecond) }},
		{"no a-number", nil, func(c *Card) { c.ANumber = "" }},
		{"a-number not digits", nil, func(c *Card) { c.ANumber = "A12345678" }},
		{"a-number too long", nil, func(c *Card) { c.ANumber = strings.Repeat("1", 17) }},
		{"bad date of birth", nil, func(c *Card) { c.DateOfBirth = "1990-02-30" }},
		{"short date of birth", nil, func(c *Card) { c.DateOfBirth = "1990-1-31" }},
		{"no office", nil, func(c *Card) { c.Office = "" }},
		{"control character", nil, func(c *Card) { c.FamilyName = "a\nb" }},
		{"serial not hex", nil, func(c *Card) { c.Serial = "xyz" }},
		{"serial too long", nil, func(c *Card) { c.Serial = strings.Repeat("ab", 33) }},
		{"family name too long", nil, func(c *Card) { c.FamilyName = strings.Repeat("Ω", 65) }},
		{"issuer name too long", func(i *Issuer) { i.Name = strings.Repeat("I", 129) }, nil},
		{"unsupported key", func(i *Issuer) { i.Signer = p384 }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			i := k.issuer()
			c := fullCard()
			if tt.issuer != nil {
				tt.issuer(i)
			}
			if tt.card != nil {
				tt.card(&c)
			}
			if p, err := i.Issue(c); err == nil {
				t.Errorf("Issue(%s) = %.20q…, nil; want an error", tt.name, p)
			}
		})
	}
}

// verifyCase is one row of TestVerify.
type verifyCase struct {
	name    string
	payload string
	trust   *Trust       // nil: the ES256 issuer's certificate
	revoked *Revocations // nil: none
	at      time.Time    // zero: t0 + 1h
	status  Status
	stage   Stage
	sigOK   bool
	card    bool // Result.Card is set
}

func TestVerify(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	other := keyFor(t, AlgES256, "other")
	ed := keyFor(t, AlgEdDSA, "issuer")
	good := issue(t, k, fullCard())
	kid := KIDOfCertificate(k.cert)

	withEnv := func(f func(*envelope)) string {
		e := standardEnvelope(t, k, fullCard())
		f(&e)
		return e.payload(t)
	}
	claims := func(m map[int]any) []byte {
		b, err := encMode.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const dob = 7335 // 1990-01-31, in days since 1970-01-01
	cardMap := map[int]any{1: "012345678", 4: dob, 5: "SFO-1"}
	baseClaims := func() map[int]any {
		return map[int]any{1: testIssuerName, 4: t0.AddDate(1, 0, 0).Unix(), 6: t0.Unix(), 7: []byte{1, 2, 3, 4, 5, 6, 7, 8}, claimCard: cardMap}
	}
	revoked := NewRevocations(7)
	if err := revoked.Add(testIssuerName, "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	otherIssuerRevoked := NewRevocations(7)
	if err := otherIssuerRevoked.Add("SOMEONE-ELSE", "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	shared := NewTrust() // two keys under the trusted kid, the wrong one first
	if err := shared.add(kid, other.cert.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := shared.add(kid, ed.cert.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := shared.add(kid, k.cert.PublicKey); err != nil {
		t.Fatal(err)
	}
	bareTrust := NewTrust()
	if err := bareTrust.AddKey(k.signer.Public()); err != nil {
		t.Fatal(err)
	}
	bareKID, _ := KIDOfKey(k.signer.Public())
	_, raw := unwrap(t, good)
	deep := []byte{0xd2}
	for range 20 {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0x00)

	for _, tt := range []verifyCase{
		{name: "valid", payload: good, status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, bare key kid", payload: withEnv(func(e *envelope) { e.protected[4] = bareKID }), trust: bareTrust, status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, untagged", payload: withEnv(func(e *envelope) { e.tags = nil }), status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, CWT and COSE_Sign1 tags", payload: withEnv(func(e *envelope) { e.tags = []uint64{tagCWT, tagCOSESign1} }), status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, kid unprotected", payload: withEnv(func(e *envelope) {
			delete(e.protected, 4)
			e.unprotected = map[any]any{4: kid}
		}), status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, one of several keys under the kid", payload: good, trust: shared, status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, another card revoked", payload: good, revoked: otherIssuerRevoked, status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, iat within the skew", payload: good, at: t0.Add(-NotBeforeSkew), status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, a second before exp", payload: good, at: t0.AddDate(1, 0, 0).Add(-time.Second), status: Valid, stage: StageDone, sigOK: true, card: true},
		{name: "valid, unknown claims and card fields", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[-260] = map[int]any{1: "dcc"}
			m[claimCard] = map[int]any{1: "012345678", 4: dob, 5: "SFO-1", 99: "future"}
			e.claims = claims(m)
		}), status: Valid, stage: StageDone, sigOK: true, card: true},

		{name: "empty", payload: "", status: Malformed, stage: StagePrefix},
		{name: "garbage", payload: "https://example.org/x?y=1", status: Malformed, stage: StagePrefix},
		{name: "lower-case prefix", payload: strings.ToLower(good[:5]) + good[5:], status: Malformed, stage: StagePrefix},
		{name: "bare Base45", payload: good[len(DefaultPrefix):], status: Malformed, stage: StagePrefix},
		{name: "too long", payload: good + strings.Repeat("0", MaxPayloadLen), status: Malformed, stage: StagePrefix},
		{name: "EU DCC", payload: "HC1:" + good[len(DefaultPrefix):], status: WrongContext, stage: StagePrefix},
		{name: "later version", payload: "SDC2:" + good[len(DefaultPrefix):], status: WrongContext, stage: StagePrefix},
		{name: "two-letter context", payload: "AB:" + good[len(DefaultPrefix):], status: WrongContext, stage: StagePrefix},
		{name: "lower-case Base45", payload: DefaultPrefix + "abc", status: Malformed, stage: StageBase45},
		{name: "Base45 group over 65535", payload: DefaultPrefix + "GGW", status: Malformed, stage: StageBase45},
		{name: "Base45 dangling char", payload: DefaultPrefix + "BB8BB8A", status: Malformed, stage: StageBase45},
		{name: "empty after prefix", payload: DefaultPrefix, status: Malformed, stage: StageInflate},
		{name: "not compressed", payload: DefaultPrefix + EncodeBase45(raw), status: Malformed, stage: StageInflate},
		{name: "bytes after the zlib stream", payload: DefaultPrefix + EncodeBase45(append(deflate(raw), 0)), status: Malformed, stage: StageInflate},
		{name: "truncated zlib stream", payload: DefaultPrefix + EncodeBase45(deflate(raw)[:40]), status: Malformed, stage: StageInflate},
		{name: "inflates past the cap", payload: wrap(make([]byte, MaxInflatedLen+1)), status: Malformed, stage: StageInflate},
		{name: "CBOR junk", payload: wrap([]byte("not cbor")), status: Malformed, stage: StageCOSE},
		{name: "empty COSE", payload: wrap(nil), status: Malformed, stage: StageCOSE},
		{name: "bytes after COSE", payload: withEnv(func(e *envelope) { e.trailing = []byte{0} }), status: Malformed, stage: StageCOSE},
		{name: "wrong tag", payload: withEnv(func(e *envelope) { e.tags = []uint64{98} }), status: Malformed, stage: StageCOSE},
		{name: "COSE_Sign1 tag twice", payload: withEnv(func(e *envelope) { e.tags = []uint64{tagCOSESign1, tagCOSESign1} }), status: Malformed, stage: StageCOSE},
		{name: "CWT tag inside", payload: withEnv(func(e *envelope) { e.tags = []uint64{tagCOSESign1, tagCWT} }), status: Malformed, stage: StageCOSE},
		{name: "three items", payload: wrap([]byte{0xd2, 0x83, 0x40, 0xa0, 0x40}), status: Malformed, stage: StageCOSE},
		{name: "too deep", payload: wrap(deep), status: Malformed, stage: StageCOSE},
		{name: "indefinite length", payload: wrap([]byte{0xd2, 0x9f, 0x40, 0xa0, 0x40, 0x40, 0xff}), status: Malformed, stage: StageCOSE},
		{name: "duplicate header label", payload: wrap(dupHeader(t, raw)), status: Malformed, stage: StageCOSE},
		{name: "no alg", payload: withEnv(func(e *envelope) {
			delete(e.protected, 1)
			e.unprotected = map[any]any{1: int64(cose.AlgorithmES256)}
		}), status: Malformed, stage: StageCOSE},
		{name: "empty protected header", payload: withEnv(func(e *envelope) {
			e.protected = nil
			e.unprotected = map[any]any{1: int64(cose.AlgorithmES256), 4: kid}
		}), status: Malformed, stage: StageCOSE},
		{name: "unsupported alg", payload: withEnv(func(e *envelope) { e.protected[1] = int64(cose.AlgorithmES384) }), status: Malformed, stage: StageCOSE},
		{name: "text alg", payload: withEnv(func(e *envelope) { e.protected[1] = "ES256" }), status: Malformed, stage: StageCOSE},
		{name: "critical header", payload: withEnv(func(e *envelope) { e.protected[2] = []any{int64(99)}; e.protected[99] = 1 }), status: Malformed, stage: StageCOSE},
		{name: "kid not bytes", payload: withEnv(func(e *envelope) { e.protected[4] = "kid" }), status: Malformed, stage: StageCOSE},

		{name: "no kid", payload: withEnv(func(e *envelope) { delete(e.protected, 4) }), status: UnknownIssuer, stage: StageKID},
		{name: "untrusted issuer", payload: issue(t, other, fullCard()), status: UnknownIssuer, stage: StageKID},
		{name: "nobody trusted", payload: good, trust: NewTrust(), status: UnknownIssuer, stage: StageKID},
		{name: "protected kid wins", payload: withEnv(func(e *envelope) {
			e.protected[4] = []byte("foo")
			e.unprotected = map[any]any{4: kid}
		}), status: UnknownIssuer, stage: StageKID},

		{name: "forged with the trusted kid", payload: withEnv(func(e *envelope) { e.signer = other.signer }), status: BadSignature, stage: StageSignature},
		{name: "EdDSA under an ES256 kid", payload: withEnv(func(e *envelope) {
			e.signer, e.alg = ed.signer, cose.AlgorithmEdDSA
			e.protected[1] = int64(cose.AlgorithmEdDSA)
		}), status: BadSignature, stage: StageSignature},
		{name: "alg swapped after signing", payload: swapAlg(t, raw), status: BadSignature, stage: StageSignature},
		{name: "claims changed after signing", payload: tamperClaims(t, raw), status: BadSignature, stage: StageSignature},

		{name: "claims not a map", payload: withEnv(func(e *envelope) { e.claims = []byte{0x01} }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "claims not CBOR", payload: withEnv(func(e *envelope) { e.claims = []byte("{}") }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "duplicate claim", payload: withEnv(func(e *envelope) { e.claims = dupClaim(e.claims) }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "no exp", payload: withEnv(func(e *envelope) { m := baseClaims(); delete(m, 4); e.claims = claims(m) }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "exp as text", payload: withEnv(func(e *envelope) { m := baseClaims(); m[4] = "2027"; e.claims = claims(m) }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "iss as number", payload: withEnv(func(e *envelope) { m := baseClaims(); m[1] = 7; e.claims = claims(m) }), status: Malformed, stage: StageValidity, sigOK: true},
		{name: "expired", payload: good, at: t0.AddDate(1, 0, 0), status: Expired, stage: StageValidity, sigOK: true, card: true},
		{name: "expired, no card claim", payload: withEnv(func(e *envelope) { m := baseClaims(); delete(m, claimCard); e.claims = claims(m) }), at: t0.AddDate(2, 0, 0), status: Expired, stage: StageValidity, sigOK: true},
		{name: "expired and revoked", payload: good, revoked: revoked, at: t0.AddDate(1, 0, 1), status: Expired, stage: StageValidity, sigOK: true, card: true},
		{name: "not yet valid", payload: good, at: t0.Add(-NotBeforeSkew - time.Second), status: NotYetValid, stage: StageValidity, sigOK: true, card: true},
		{name: "float dates", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[4], m[6] = float64(t0.Unix())+0.5, float64(t0.Unix()-3600)
			e.claims = claims(m)
		}), at: t0.Add(-time.Minute), status: Valid, stage: StageDone, sigOK: true, card: true},

		{name: "no card claim", payload: withEnv(func(e *envelope) { m := baseClaims(); delete(m, claimCard); e.claims = claims(m) }), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "card claim not a map", payload: withEnv(func(e *envelope) { m := baseClaims(); m[claimCard] = "x"; e.claims = claims(m) }), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "a-number with a letter", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "01234567A", 4: dob, 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "no date of birth", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]string{1: "012345678", 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "date of birth as text", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 4: "1990-01-31", 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "date of birth after 9999", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 4: maxBirthDay + 1, 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "date of birth before 0000", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 4: minBirthDay - 1, 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "date of birth as a float", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 4: float64(dob), 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "empty family name", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 2: "", 4: dob, 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "name as bytes", payload: withEnv(func(e *envelope) {
			m := baseClaims()
			m[claimCard] = map[int]any{1: "012345678", 2: []byte("x"), 4: dob, 5: "SFO-1"}
			e.claims = claims(m)
		}), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "no cti", payload: withEnv(func(e *envelope) { m := baseClaims(); delete(m, 7); e.claims = claims(m) }), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "cti as text", payload: withEnv(func(e *envelope) { m := baseClaims(); m[7] = "0102"; e.claims = claims(m) }), status: NotACard, stage: StageClaim, sigOK: true},
		{name: "no iss", payload: withEnv(func(e *envelope) { m := baseClaims(); delete(m, 1); e.claims = claims(m) }), status: NotACard, stage: StageClaim, sigOK: true},

		{name: "revoked", payload: withEnv(func(*envelope) {}), revoked: revoked, status: Revoked, stage: StageRevocation, sigOK: true, card: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Trust: tt.trust, Revocations: tt.revoked}
			if v.Trust == nil {
				v.Trust = k.trust(t)
			}
			at := tt.at
			if at.IsZero() {
				at = t0.Add(time.Hour)
			}
			r := v.Verify(tt.payload, at)
			if r.Status != tt.status || r.Stage != tt.stage || r.SignatureOK != tt.sigOK || (r.Card != nil) != tt.card {
				t.Errorf("Verify(%s) = %s at %s, signature %v, card %v (%v); want %s at %s, signature %v, card %v",
					tt.name, r.Status, r.Stage, r.SignatureOK, r.Card != nil, r.Err, tt.status, tt.stage, tt.sigOK, tt.card)
			}
			if (r.Err == nil) != (r.Status == Valid) {
				t.Errorf("Verify(%s).Err = %v; want an error exactly when not valid", tt.name, r.Err)
			}
			if r.Err != nil {
				for _, secret := range []string{"012345678", "1990-01-31", "Alex", "Testperson"} {
					if strings.Contains(r.Err.Error(), secret) {
						t.Errorf("Verify(%s).Err = %q; want no personal data", tt.name, r.Err)
					}
				}
			}
		})
	}
}

// dupHeader re-encodes raw (a COSE_Sign1 from Issue) with kid twice in its
// protected header.
func dupHeader(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := decodeSign1(raw)
	if err != nil {
		t.Fatal(err)
	}
	// {1: alg, 4: kid, 4: kid}
	prot := []byte{0xa3, 0x01, byte(0x20 | (-1 - int(m.alg))), 0x04, 0x48}
	prot = append(prot, m.kid...)
	prot = append(prot, 0x04, 0x48)
	prot = append(prot, m.kid...)
	b, err := encMode.Marshal([]any{prot, map[any]any{}, m.payload, m.signature})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// swapAlg re-encodes raw claiming PS256 in place of ES256 in the protected header.
func swapAlg(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := decodeSign1(raw)
	if err != nil {
		t.Fatal(err)
	}
	prot, _ := encMode.Marshal(map[int]any{1: int64(cose.AlgorithmPS256), 4: m.kid})
	b, _ := encMode.Marshal([]any{prot, map[any]any{}, m.payload, m.signature})
	return wrap(b)
}

// tamperClaims re-encodes raw with the last byte of the claims changed.
func tamperClaims(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := decodeSign1(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := bytes.Clone(m.payload)
	p[len(p)-1] ^= 1
	b, _ := encMode.Marshal([]any{m.protected, map[any]any{}, p, m.signature})
	return wrap(b)
}

// dupClaim turns the claims map {a, b, …} into one that repeats its first
// pair: its first byte must be a small map header.
func dupClaim(claims []byte) []byte {
	// The first pair of a core-deterministic map of ours is 1: iss; the
	// map has fewer than 24 pairs, so its header is one byte.
	n := int(claims[0] & 0x1f)
	var first []byte
	{
		// find the end of the first pair: key 0x01, then a text string
		l := int(claims[2] & 0x1f)
		first = claims[1 : 3+l]
	}
	out := []byte{0xa0 | byte(n+1)}
	out = append(out, first...)
	return append(out, claims[1:]...)
}

func TestFlippedBytes(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgPS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			k := keyFor(t, alg, "issuer")
			v := &Verifier{Trust: k.trust(t)}
			good := issue(t, k, minimalCard())
			compressed, raw := unwrap(t, good)
			check := func(stage string, i int, payload string) {
				t.Helper()
				if r := v.Verify(payload, t0); r.Status == Valid {
					t.Errorf("Verify(%s with byte %d flipped) = valid; want not valid", stage, i)
				}
			}
			for i := range len(good) {
				b := []byte(good)
				j := strings.IndexByte(base45Alphabet, b[i])
				if j < 0 { // a prefix character
					b[i] ^= 0x20
				} else {
					b[i] = base45Alphabet[(j+1)%45]
				}
				check("payload", i, string(b))
			}
			noops := 0
			for i := range compressed {
				for _, bit := range []byte{0x01, 0x80} {
					b := bytes.Clone(compressed)
					b[i] ^= bit
					// DEFLATE ignores the padding bits that align a stored
					// block to a byte: such a flip inflates to the same
					// signed message, so it must stay valid.
					if same, err := inflate(b); err == nil && bytes.Equal(same, raw) {
						noops++
						if r := v.Verify(DefaultPrefix+EncodeBase45(b), t0); r.Status != Valid {
							t.Errorf("Verify(compressed with padding bit flipped) = %s; want valid", r.Status)
						}
						continue
					}
					check("compressed", i, DefaultPrefix+EncodeBase45(b))
				}
			}
			t.Logf("%d of %d flips of the compressed form only touched DEFLATE padding", noops, 2*len(compressed))
			for i := range raw {
				for _, bit := range []byte{0x01, 0x80} {
					b := bytes.Clone(raw)
					b[i] ^= bit
					check("COSE", i, wrap(b))
				}
			}
		})
	}
}

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{Result{Status: Valid, Stage: StageDone}, "card.valid"},
		{Result{Status: Malformed, Stage: StageBase45}, "card.malformed.base45"},
		{Result{Status: Malformed, Stage: StagePrefix}, "card.malformed.prefix"},
		{Result{Status: Malformed}, "card.malformed.unknown"},
		{Result{Status: WrongContext, Stage: StagePrefix}, "card.wrong_context"},
		{Result{Status: Expired, Stage: StageValidity}, "card.expired"},
		{Result{Status: NotACard, Stage: StageClaim}, "card.not_a_card"},
		{Result{}, "card.unknown"},
	} {
		if got := tt.r.Reason(); got != tt.want {
			t.Errorf("Result{%s, %s}.Reason() = %q; want %q", tt.r.Status, tt.r.Stage, got, tt.want)
		}
	}
}

// TestVerifyNilTrust checks a zero Verifier trusts nobody rather than panicking.
func TestVerifyNilTrust(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	r := new(Verifier).Verify(issue(t, k, fullCard()), t0)
	if r.Status != UnknownIssuer {
		t.Errorf("Verify() with no trust = %s; want %s", r.Status, UnknownIssuer)
	}
}
