package card

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// testURLPrefix is the reference prefix of test verifiers.
const testURLPrefix = "https://docket.example.gov/c/"

// Test references: the first two are in testRoster, the third is not.
const (
	refFull    = "7Q2M9XD4KTA0B8ZP3WNE6RJ5HC"
	refMinimal = "0123456789ABCDEFGHJKMNPQRS"
	refAbsent  = "TVWXYZ0123456789ABCDEFGHJK"
)

// rosterCard is c as a roster holds it: with an issuer and a serial.
func rosterCard(c Card, serial string) Card {
	c.Issuer, c.Serial = testIssuerName, serial
	return c
}

// testRoster is a roster of seq 7 holding fullCard under refFull and
// minimalCard under refMinimal, signed by the test root, and opened again.
func testRoster(t testing.TB) (*Roster, []byte) {
	t.Helper()
	r, err := NewRoster(7, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(refFull, rosterCard(fullCard(), "0a0b0c0d")); err != nil {
		t.Fatalf("Add(full) = %v", err)
	}
	if err := r.Add(refMinimal, rosterCard(minimalCard(), "0102030405060708")); err != nil {
		t.Fatalf("Add(minimal) = %v", err)
	}
	root := keyFor(t, AlgEdDSA, "root")
	data, err := r.Sign(root.signer)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	opened, err := OpenRoster(data, root.signer.Public())
	if err != nil {
		t.Fatalf("OpenRoster() = %v", err)
	}
	return opened, data
}

func TestRosterRoundTrip(t *testing.T) {
	r, _ := testRoster(t)
	if r.Seq() != 7 || !r.IssuedAt().Equal(t0) || r.Len() != 2 {
		t.Errorf("OpenRoster() = seq %d issued %s len %d; want 7, %s, 2", r.Seq(), r.IssuedAt(), r.Len(), t0)
	}
	for _, tt := range []struct {
		ref  string
		want Card
	}{
		{refFull, rosterCard(fullCard(), "0a0b0c0d")},
		{strings.ToLower(refFull), rosterCard(fullCard(), "0a0b0c0d")},
		{refMinimal, rosterCard(minimalCard(), "0102030405060708")},
	} {
		c, found, err := r.Lookup(tt.ref)
		if err != nil || !found {
			t.Errorf("Lookup(%s) = %v, %v; want found", tt.ref, found, err)
			continue
		}
		if *c != tt.want {
			t.Errorf("Lookup(%s) = %+v; want %+v", tt.ref, *c, tt.want)
		}
	}

	next := r.Next(t0.Add(time.Hour))
	ref, err := NewReference()
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Add(ref, rosterCard(fullCard(), "ff")); err != nil {
		t.Fatalf("Next().Add() = %v", err)
	}
	if next.Seq() != 8 || next.Len() != 3 || r.Len() != 2 {
		t.Errorf("Next() = seq %d len %d, old len %d; want 8, 3, 2", next.Seq(), next.Len(), r.Len())
	}
	for _, ref := range []string{refFull, ref} {
		if _, found, err := next.Lookup(ref); !found || err != nil {
			t.Errorf("Next().Lookup(%s) = %v, %v; want found", ref, found, err)
		}
	}
}

func TestRosterLookupAbsent(t *testing.T) {
	r, _ := testRoster(t)
	for _, ref := range []string{refAbsent, refFull[:25] + "D", refFull + "0"} {
		if c, found, err := r.Lookup(ref); c != nil || found || err != nil {
			t.Errorf("Lookup(%s) = %v, %v, %v; want nil, false, nil", ref, c, found, err)
		}
	}
	for _, ref := range []string{"", refFull[:25], "7Q2M9XD4KTA0B8ZP3WNE6RJ5HI", "7Q2M9XD4KTA0B8ZP3WNE6RJ5H "} {
		if c, found, err := r.Lookup(ref); c != nil || found || err == nil {
			t.Errorf("Lookup(%q) = %v, %v, %v; want an error", ref, c, found, err)
		}
	}
	var none *Roster
	if c, found, err := none.Lookup(refFull); c != nil || found || err != nil {
		t.Errorf("(*Roster)(nil).Lookup() = %v, %v, %v; want nil, false, nil", c, found, err)
	}
}

func TestParseReference(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" for an error
	}{
		{refFull, refFull},
		{"7q2m9xd4kta0b8zp3wne6rj5hc", refFull},
		{strings.Repeat("Z", 64), strings.Repeat("Z", 64)},
		{strings.Repeat("Z", 65), ""},
		{strings.Repeat("Z", 25), ""},
		{"", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5HI", ""}, // I, L, O and U are not Crockford base32
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5HL", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5HO", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5HU", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5Hu", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5H-", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5H/", ""},
		{"7Q2M9XD4KTA0B8ZP3WNE6RJ5\u00c9", ""},
	} {
		got, err := ParseReference(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseReference(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseReference(%q) error %q quotes the reference", tt.in, err)
		}
	}
}

func TestNewReference(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		ref, err := NewReference()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ParseReference(ref); got != ref || err != nil || len(ref) != 26 {
			t.Fatalf("ParseReference(NewReference() = %q) = %q, %v; want it unchanged, 26 characters", ref, got, err)
		}
		if seen[ref] {
			t.Fatalf("NewReference() = %q twice", ref)
		}
		seen[ref] = true
	}
}

func TestRosterAddRefused(t *testing.T) {
	r, err := NewRoster(1, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(refFull, rosterCard(fullCard(), "01")); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	good := rosterCard(fullCard(), "02")
	for _, tt := range []struct {
		name string
		ref  string
		edit func(*Card)
	}{
		{"present", refFull, func(*Card) {}},
		{"present in lower case", strings.ToLower(refFull), func(*Card) {}},
		{"short reference", refAbsent[:20], func(*Card) {}},
		{"no issuer", refAbsent, func(c *Card) { c.Issuer = "" }},
		{"no serial", refAbsent, func(c *Card) { c.Serial = "" }},
		{"serial not hex", refAbsent, func(c *Card) { c.Serial = "xyz" }},
		{"no expiry", refAbsent, func(c *Card) { c.ExpiresAt = time.Time{} }},
		{"expires before issue", refAbsent, func(c *Card) { c.ExpiresAt = c.IssuedAt }},
		{"no a-number", refAbsent, func(c *Card) { c.ANumber = "" }},
		{"bad date of birth", refAbsent, func(c *Card) { c.DateOfBirth = "1990-02-30" }},
	} {
		c := good
		tt.edit(&c)
		if err := r.Add(tt.ref, c); err == nil {
			t.Errorf("Add(%s) = nil; want an error", tt.name)
		}
	}
	if r.Len() != 1 {
		t.Errorf("Len() = %d after refused adds; want 1", r.Len())
	}
}

// signRosterDoc signs an arbitrary payload as a roster with the test root.
func signRosterDoc(t *testing.T, doc any) []byte {
	t.Helper()
	data, err := signDocument(keyFor(t, AlgEdDSA, "root").signer, ContentTypeRoster, doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOpenRosterRefused(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root")
	other := keyFor(t, AlgEdDSA, "other root")
	r, data := testRoster(t)
	byOther, err := r.Sign(other.signer)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x01
	asRevocations, err := signDocument(root.signer, ContentTypeRevocations, map[string]any{"seq": 1})
	if err != nil {
		t.Fatal(err)
	}
	salt := bytes.Repeat([]byte{1}, 16)
	lookup := cbor.ByteString(bytes.Repeat([]byte{2}, 16))
	sealed := bytes.Repeat([]byte{3}, 64)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"signed by another root", byOther},
		{"a byte flipped", flipped},
		{"truncated", data[:len(data)-1]},
		{"a revocation list", asRevocations},
		{"empty", nil},
		{"no salt", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "entries": map[cbor.ByteString][]byte{}})},
		{"no entries", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt})},
		{"short salt", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt[:15], "entries": map[cbor.ByteString][]byte{}})},
		{"salt as text", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": string(salt), "entries": map[cbor.ByteString][]byte{}})},
		{"short lookup", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[cbor.ByteString][]byte{lookup[:15]: sealed}})},
		{"text lookup", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[string][]byte{string(lookup): sealed}})},
		{"short entry", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[cbor.ByteString][]byte{lookup: sealed[:28]}})},
		{"long entry", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[cbor.ByteString][]byte{lookup: make([]byte, maxRosterSealed+1)}})},
		{"text entry", signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[cbor.ByteString]string{lookup: string(sealed)}})},
	} {
		if got, err := OpenRoster(tt.data, root.signer.Public()); got != nil || err == nil {
			t.Errorf("OpenRoster(%s) = %v, %v; want an error", tt.name, got, err)
		}
	}
	if got, err := OpenRoster(data, nil); got != nil || err == nil {
		t.Errorf("OpenRoster(no root) = %v, %v; want an error", got, err)
	}
	empty := signRosterDoc(t, map[string]any{"seq": 1, "issued_at": 1, "salt": salt, "entries": map[cbor.ByteString][]byte{}})
	if got, err := OpenRoster(empty, root.signer.Public()); err != nil || got.Len() != 0 {
		t.Errorf("OpenRoster(empty roster) = %v, %v; want 0 entries", got, err)
	}
}

// TestRosterTamperedEntry changes entries of a roster the root then signs
// (a faulty upstream): Lookup must fail, never return another card.
func TestRosterTamperedEntry(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root")
	r, _ := testRoster(t)
	full, minimal := r.lookupKey(refFull), r.lookupKey(refMinimal)
	n := len(r.entries[full])
	for _, tt := range []struct {
		name string
		edit func(entries map[rosterLookup][]byte)
	}{
		{"nonce", func(e map[rosterLookup][]byte) { e[full][0] ^= 1 }},
		{"ciphertext", func(e map[rosterLookup][]byte) { e[full][sealedNonceLen+5] ^= 0x80 }},
		{"tag", func(e map[rosterLookup][]byte) { e[full][n-1] ^= 1 }},
		{"swapped", func(e map[rosterLookup][]byte) { e[full], e[minimal] = e[minimal], e[full] }},
		{"truncated", func(e map[rosterLookup][]byte) { e[full] = e[full][:n-1] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := r.Next(t0)
			for l, v := range bad.entries {
				bad.entries[l] = bytes.Clone(v)
			}
			tt.edit(bad.entries)
			data, err := bad.Sign(root.signer)
			if err != nil {
				t.Fatal(err)
			}
			opened, err := OpenRoster(data, root.signer.Public())
			if err != nil {
				t.Fatalf("OpenRoster() = %v", err)
			}
			if c, found, err := opened.Lookup(refFull); c != nil || found || err == nil {
				t.Errorf("Lookup(tampered %s) = %v, %v, %v; want an error", tt.name, c, found, err)
			}
		})
	}
	// The original is untouched by the edits of its copies.
	if _, found, err := r.Lookup(refFull); !found || err != nil {
		t.Errorf("Lookup(original) = %v, %v; want found", found, err)
	}
}

// TestRosterNamesNobody checks that the signed file holds no personal field
// and no reference, in any case.
func TestRosterNamesNobody(t *testing.T) {
	_, data := testRoster(t)
	c := fullCard()
	for _, s := range []string{c.ANumber, c.FamilyName, c.GivenName, c.DateOfBirth, "19900131", c.Office, testIssuerName, refFull, refMinimal} {
		for _, v := range []string{s, strings.ToLower(s)} {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("signed roster contains %q", v)
			}
		}
	}
}

func TestVerifyReference(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	r, _ := testRoster(t)
	revs := NewRevocations(1)
	if err := revs.Add(testIssuerName, "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	tampered := r.Next(t0)
	tampered.entries[tampered.lookupKey(refFull)] = bytes.Clone(tampered.entries[tampered.lookupKey(refMinimal)])
	at := t0.Add(time.Hour)
	full := rosterCard(fullCard(), "0a0b0c0d")
	for _, tt := range []struct {
		name    string
		payload string
		at      time.Time
		roster  *Roster
		revs    *Revocations
		want    Status
		stage   Stage
		card    bool
	}{
		{"valid", testURLPrefix + refFull, at, r, nil, Valid, StageDone, true},
		{"valid in lower case", testURLPrefix + strings.ToLower(refFull), at, r, nil, Valid, StageDone, true},
		{"second prefix", "SDCREF:" + refFull, at, r, nil, Valid, StageDone, true},
		{"not revoked", testURLPrefix + refFull, at, r, revs, Valid, StageDone, true},
		{"revoked", testURLPrefix + refMinimal, at, r, revs, Revoked, StageRevocation, true},
		{"expired", testURLPrefix + refFull, t0.AddDate(1, 0, 0), r, nil, Expired, StageValidity, true},
		{"not yet valid", testURLPrefix + refFull, t0.Add(-NotBeforeSkew - time.Second), r, nil, NotYetValid, StageValidity, true},
		{"within skew", testURLPrefix + refFull, t0.Add(-NotBeforeSkew), r, nil, Valid, StageDone, true},
		{"not in roster", testURLPrefix + refAbsent, at, r, nil, UnknownIssuer, StageRoster, false},
		{"no roster", testURLPrefix + refFull, at, nil, nil, UnknownIssuer, StageRoster, false},
		{"tampered entry", testURLPrefix + refFull, at, tampered, nil, BadSignature, StageRoster, false},
		{"empty reference", testURLPrefix, at, r, nil, Malformed, StagePrefix, false},
		{"short reference", testURLPrefix + refFull[:25], at, r, nil, Malformed, StagePrefix, false},
		{"bad character", testURLPrefix + refFull[:25] + "I", at, r, nil, Malformed, StagePrefix, false},
		{"trailing slash", testURLPrefix + refFull + "/", at, r, nil, Malformed, StagePrefix, false},
		{"query", testURLPrefix + refFull + "?a=1", at, r, nil, Malformed, StagePrefix, false},
		{"line ending", testURLPrefix + refFull + "\n", at, r, nil, Malformed, StagePrefix, false},
		{"huge", testURLPrefix + strings.Repeat("Z", MaxPayloadLen), at, r, nil, Malformed, StagePrefix, false},
		{"other prefix", "https://docket.example.gov/d/" + refFull, at, r, nil, Malformed, StagePrefix, false},
		{"signed card beside references", issue(t, k, fullCard()), at, r, nil, Valid, StageDone, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Trust: k.trust(t), Revocations: tt.revs, Roster: tt.roster,
				ReferencePrefixes: []string{"", testURLPrefix, "SDCREF:"}}
			res := v.Verify(tt.payload, tt.at)
			if res.Status != tt.want || res.Stage != tt.stage {
				t.Fatalf("Verify(%.40q) = %s at %s (%v); want %s at %s", tt.payload, res.Status, res.Stage, res.Err, tt.want, tt.stage)
			}
			if (res.Err == nil) != (tt.want == Valid) {
				t.Errorf("Verify(%.40q).Err = %v", tt.payload, res.Err)
			}
			if (res.Card != nil) != tt.card || res.SignatureOK != tt.card {
				t.Errorf("Verify(%.40q) card %v signature %v; want %v", tt.payload, res.Card != nil, res.SignatureOK, tt.card)
			}
			if strings.HasPrefix(tt.payload, DefaultPrefix) {
				return
			}
			if res.KID != nil {
				t.Errorf("Verify(%.40q).KID = %x; want nil", tt.payload, res.KID)
			}
			if res.Card != nil && tt.payload == testURLPrefix+refFull && *res.Card != full {
				t.Errorf("Verify(%.40q).Card = %+v; want %+v", tt.payload, *res.Card, full)
			}
			if res.Err != nil && strings.Contains(strings.ToUpper(res.Err.Error()), refFull[:10]) {
				t.Errorf("Verify(%.40q).Err = %q quotes the reference", tt.payload, res.Err)
			}
		})
	}
}

func TestVerifyReferenceStale(t *testing.T) {
	r, _ := testRoster(t)
	revs := NewRevocations(1)
	revs.SetIssuedAt(t0)
	for _, tt := range []struct {
		at   time.Time
		want Status
	}{
		{t0.Add(24 * time.Hour), Valid},
		{t0.Add(24*time.Hour + time.Second), StaleLists},
	} {
		v := &Verifier{Revocations: revs, MaxListAge: 24 * time.Hour, Roster: r, ReferencePrefixes: []string{testURLPrefix}}
		if res := v.Verify(testURLPrefix+refFull, tt.at); res.Status != tt.want {
			t.Errorf("Verify(at %s) = %s (%v); want %s", tt.at, res.Status, res.Err, tt.want)
		}
	}
}

// FuzzVerifyReference feeds arbitrary text to a verifier that resolves
// references, bare and after the prefix: Verify must not panic, and its
// Result must be coherent.
func FuzzVerifyReference(f *testing.F) {
	r, _ := testRoster(f)
	for _, s := range []string{refFull, refMinimal, refAbsent, strings.ToLower(refFull), refFull + "/", "", "I", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	v := &Verifier{Roster: r, ReferencePrefixes: []string{testURLPrefix}, Revocations: NewRevocations(1)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, payload := range []string{s, testURLPrefix + s} {
			res := v.Verify(payload, t0)
			switch {
			case res.Status == "" || res.Stage == "":
				t.Fatalf("Verify(%q) = %q at %q; want a status and a stage", payload, res.Status, res.Stage)
			case (res.Status == Valid) != (res.Err == nil):
				t.Fatalf("Verify(%q) = %s with error %v", payload, res.Status, res.Err)
			case res.Status == Valid && (res.Card == nil || !res.SignatureOK || res.Stage != StageDone):
				t.Fatalf("Verify(%q) = valid without a card, a signature or done", payload)
			case res.Card != nil && !res.SignatureOK:
				t.Fatalf("Verify(%q) = %s with a card but no signature", payload, res.Status)
			case res.Status == Valid && strings.ToUpper(strings.TrimPrefix(payload, testURLPrefix)) != refFull &&
				strings.ToUpper(strings.TrimPrefix(payload, testURLPrefix)) != refMinimal:
				t.Fatalf("Verify(%q) = valid for a reference not in the roster", payload)
			}
		}
	})
}

// TestRosterVectors checks the worked example of FORMAT.md, "Reference
// cards" (computed there with another HMAC and HKDF implementation).
func TestRosterVectors(t *testing.T) {
	r := &Roster{}
	for i := range r.salt {
		r.salt[i] = byte(i)
	}
	const (
		wantLookup = "f0688341f8dc8deb2fd32f43a438bb6f"
		wantKey    = "e2462e615a7745b770c15a80020896e6dc8f7691d345d580fe29f139dbaa8d83"
	)
	if l := r.lookupKey(refFull); fmt.Sprintf("%x", l) != wantLookup {
		t.Errorf("lookupKey(%s) = %x; want %s", refFull, l, wantLookup)
	}
	key, err := r.sealKey(refFull)
	if err != nil || fmt.Sprintf("%x", key) != wantKey {
		t.Errorf("sealKey(%s) = %x, %v; want %s", refFull, key, err, wantKey)
	}
}
