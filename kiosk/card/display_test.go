package card

import (
	"encoding/hex"
	"encoding/json"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card/cardtest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A Result in JSON holds the outcome and the card's handles, and nothing
// personal, whatever the outcome.
func TestResultJSON(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	c := fullCard()
	c.Serial = "0a0b0c0d"
	payload := issue(t, k, c)
	v := &Verifier{Trust: k.trust(t)}
	for _, tt := range []struct {
		name    string
		payload string
		at      time.Time
		want    map[string]any
	}{
		{"valid", payload, t0.Add(time.Hour), map[string]any{"result": "valid", "stage": "done", "reason": "card.valid",
			"signature_ok": true, "kid": hex.EncodeToString(KIDOfCertificate(k.cert)), "iss": testIssuerName,
			"serial": "0a0b0c0d", "expires_at": "2027-03-01T09:00:00Z"}},
		{"expired", payload, t0.AddDate(2, 0, 0), map[string]any{"result": "expired", "stage": "validity", "reason": "card.expired",
			"signature_ok": true, "kid": hex.EncodeToString(KIDOfCertificate(k.cert)), "iss": testIssuerName,
			"serial": "0a0b0c0d", "expires_at": "2027-03-01T09:00:00Z"}},
		{"garbage", "hello", t0, map[string]any{"result": "malformed", "stage": "prefix", "reason": "card.malformed.prefix",
			"signature_ok": false, "kid": "", "iss": "", "serial": "", "expires_at": ""}},
	} {
		r := v.Verify(tt.payload, tt.at)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: json.Marshal(Result) = %v", tt.name, err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: json.Marshal(Result) = %s; want %v", tt.name, b, tt.want)
		}
		for _, secret := range []string{c.ANumber, c.FamilyName, c.GivenName, c.DateOfBirth, c.Office} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s: json.Marshal(Result) = %s: it holds %q", tt.name, b, secret)
			}
		}
	}
}

// A trust list in JSON names each key, its window and offices, and says
// which keys kiosks skip, and why.
func TestTrustListJSON(t *testing.T) {
	k := keyFor(t, AlgES256, "NYC")
	bare := keyFor(t, AlgEdDSA, "SFO")
	p384 := cardtest.P384Certificate(t)
	window := func(e TrustEntry) TrustEntry {
		e.NotBefore, e.NotAfter = t0, t0.AddDate(1, 0, 0)
		return e
	}
	l := &TrustList{Seq: 2, IssuedAt: t0, Entries: []TrustEntry{
		window(TrustEntry{Issuer: "SDC-NYC", Certificate: k.cert, Offices: []string{"NYC", "BOS"}}),
		window(TrustEntry{Issuer: "SDC-SFO", PublicKey: bare.signer.Public(), Offices: []string{AnyOffice}}),
		window(TrustEntry{Issuer: "SDC-FAR", Certificate: p384, Offices: []string{AnyOffice}}),
	}}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatalf("json.Marshal(TrustList) = %v", err)
	}
	var got struct {
		Seq         uint64
		IssuedAt    string `json:"issued_at"`
		Entries     []map[string]any
		SkippedKeys int `json:"skipped_keys"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	bareKID, err := KIDOfKey(bare.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 2 || got.IssuedAt != "2026-03-01T09:00:00Z" || got.SkippedKeys != 1 || len(got.Entries) != 3 {
		t.Fatalf("json.Marshal(TrustList) = %s; want seq 2, issued 2026-03-01T09:00:00Z, 3 entries, 1 skipped", b)
	}
	for i, want := range []map[string]any{
		{"iss": "SDC-NYC", "kid": hex.EncodeToString(KIDOfCertificate(k.cert)), "key": "cert", "subject": "NYC",
			"not_before": "2026-03-01T09:00:00Z", "not_after": "2027-03-01T09:00:00Z", "offices": []any{"NYC", "BOS"}},
		{"iss": "SDC-SFO", "kid": hex.EncodeToString(bareKID), "key": "spki",
			"not_before": "2026-03-01T09:00:00Z", "not_after": "2027-03-01T09:00:00Z", "offices": []any{"*"}},
	} {
		if !reflect.DeepEqual(got.Entries[i], want) {
			t.Errorf("entry %d = %v; want %v", i, got.Entries[i], want)
		}
	}
	if s, _ := got.Entries[2]["skipped"].(string); !strings.Contains(s, "P-384") {
		t.Errorf("entry 2 = %v; want it skipped for its P-384 key", got.Entries[2])
	}
}
