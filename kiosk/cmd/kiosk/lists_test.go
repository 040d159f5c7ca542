package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card/cardtest"
)

// TestStatusSkippedKeys: the daemon loads a trust list holding a P-384
// key, still takes the demo's cards, and counts the key skipped in
// /api/v1/status.
func TestStatusSkippedKeys(t *testing.T) {
	kit := testKit(t)
	root, err := card.ParsePrivateKeyPEM(mustRead(t, filepath.Join(kit.Dir, "root-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	l, err := card.OpenTrustList(mustRead(t, kit.Trust), root.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l.Seq++
	l.Entries = append([]card.TrustEntry{{Issuer: "SDC-FAR", Certificate: cardtest.P384Certificate(t),
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0), Offices: []string{"*"}}}, l.Entries...)
	data, err := l.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	writeDoc(t, kit.Trust, data)

	m := startKiosk(t, t.TempDir(), kit, "")
	if r := m.lists.Verify(kit.Samples["valid"], time.Now()); r.Status != card.Valid {
		t.Errorf("Verify(valid) = %s (%v); want valid", r.Status, r.Err)
	}
	var st struct {
		Lists struct {
			TrustSeq    uint64 `json:"trust_seq"`
			SkippedKeys *int   `json:"skipped_keys"`
		} `json:"lists"`
	}
	getJSON(t, "http://"+m.Addr()+"/api/v1/status", &st)
	if st.Lists.TrustSeq != l.Seq || st.Lists.SkippedKeys == nil || *st.Lists.SkippedKeys != 1 {
		t.Errorf("status lists = trust seq %d, skipped keys %v; want %d, 1", st.Lists.TrustSeq, st.Lists.SkippedKeys, l.Seq)
	}
}
