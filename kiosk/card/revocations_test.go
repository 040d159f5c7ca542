package card

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRevocations(t *testing.T) {
	r := NewRevocations(3)
	if err := r.Add("SDC-TEST", "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("SDC-TEST", "0102030405060708"); err != nil { // again: no change
		t.Fatal(err)
	}
	for _, tt := range []struct {
		iss, serial string
		want        bool
	}{
		{"SDC-TEST", "0102030405060708", true},
		{"SDC-TEST", "0102030405060708"[:14], false},
		{"SDC-TEST", "0102030405060709", false},
		{"SDC-OTHER", "0102030405060708", false},
		{"SDC-TES", "T0102030405060708", false}, // not hex, and no ambiguity anyway
		{"SDC-TEST", "not hex", false},
		{"SDC-TEST", "", false},
	} {
		if got := r.Contains(tt.iss, tt.serial); got != tt.want {
			t.Errorf("Contains(%q, %q) = %v; want %v", tt.iss, tt.serial, got, tt.want)
		}
	}
	if r.Seq() != 3 || r.Len() != 1 {
		t.Errorf("Seq(), Len() = %d, %d; want 3, 1", r.Seq(), r.Len())
	}
	if err := r.Add("", "01"); err == nil {
		t.Errorf("Add(\"\", \"01\") = nil; want an error")
	}
	if err := r.Add("SDC-TEST", "0g"); err == nil {
		t.Errorf("Add(SDC-TEST, \"0g\") = nil; want an error")
	}
	var none *Revocations
	if none.Contains("SDC-TEST", "0102030405060708") || none.Seq() != 0 || none.Len() != 0 {
		t.Errorf("a nil *Revocations revokes something")
	}
	n := r.Next()
	if n.Seq() != 4 || !n.Contains("SDC-TEST", "0102030405060708") || r.Seq() != 3 {
		t.Errorf("Next() = seq %d; want seq 4 with the same entries, r unchanged", n.Seq())
	}
}

// TestRevocationsFile pins the file form and the entry hash: changing either
// breaks every list already published.
func TestRevocationsFile(t *testing.T) {
	r := NewRevocations(1)
	if err := r.Add("SDC-TEST", "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("sdc-revocation-v1\x00" || be32(8) "SDC-TEST" || be32(8) 01…08)[:16]
	const want = `{"seq":1,"entries":["17ed32b09be99bd52f0f170a8f3926bd"]}`
	if string(got) != want {
		t.Errorf("json.Marshal(list) = %s; want %s", got, want)
	}
	back, err := ParseRevocations(got)
	if err != nil {
		t.Fatalf("ParseRevocations(%s): %v", got, err)
	}
	if back.Seq() != 1 || !back.Contains("SDC-TEST", "0102030405060708") {
		t.Errorf("ParseRevocations(%s) lost the entry or the seq", got)
	}
	empty, _ := json.Marshal(NewRevocations(0))
	if string(empty) != `{"seq":0,"entries":[]}` {
		t.Errorf("json.Marshal(empty list) = %s; want {\"seq\":0,\"entries\":[]}", empty)
	}
}

func TestParseRevocationsInvalid(t *testing.T) {
	e := "17ed32b09be99bd52f0f170a8f3926bd"
	for _, s := range []string{
		``,
		`[]`,
		`{"entries":[]}`,
		`{"seq":1}`,
		`{"seq":-1,"entries":[]}`,
		`{"seq":1,"entries":["` + e + `"],"extra":1}`,
		`{"seq":1,"entries":["` + e + `","` + e + `"]}`,
		`{"seq":1,"entries":["` + strings.ToUpper(e) + `"]}`,
		`{"seq":1,"entries":["` + e[:30] + `"]}`,
		`{"seq":1,"entries":["` + e[:31] + `x"]}`,
		`{"seq":1,"entries":[]} {}`,
		`{"seq":1,"entries":[]}}`,
	} {
		if _, err := ParseRevocations([]byte(s)); err == nil {
			t.Errorf("ParseRevocations(%s) = nil error; want an error", s)
		}
	}
}

func TestVerifyRevokedViaFile(t *testing.T) {
	k := keyFor(t, AlgEdDSA, "issuer")
	c := fullCard()
	c.Serial = "a1b2c3d4e5f60718"
	r := NewRevocations(1)
	if err := r.Add(testIssuerName, c.Serial); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	list, err := ParseRevocations(data)
	if err != nil {
		t.Fatal(err)
	}
	res := (&Verifier{Trust: k.trust(t), Revocations: list}).Verify(issue(t, k, c), t0)
	if res.Status != Revoked || res.Card == nil || res.Card.Serial != c.Serial {
		t.Errorf("Verify(revoked card) = %s; want %s with the card", res.Status, Revoked)
	}
}
