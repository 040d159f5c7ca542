package card

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
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

// TestRevocationsEntryHash pins the entry hash and the display form:
// changing the hash breaks every list already published.
func TestRevocationsEntryHash(t *testing.T) {
	r := NewRevocations(1)
	if err := r.Add("SDC-TEST", "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	r.SetIssuedAt(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("sdc-revocation-v1\x00" || be32(8) "SDC-TEST" || be32(8) 01…08)[:16]
	const want = `{"seq":1,"issued_at":"2026-03-01T09:00:00Z","entries":["17ed32b09be99bd52f0f170a8f3926bd"]}`
	if string(got) != want {
		t.Errorf("json.Marshal(list) = %s; want %s", got, want)
	}
	empty, _ := json.Marshal(NewRevocations(0))
	if string(empty) != `{"seq":0,"entries":[]}` {
		t.Errorf("json.Marshal(empty list) = %s; want {\"seq\":0,\"entries\":[]}", empty)
	}
}

// TestOpenRevocationsInvalid signs payloads Sign never writes.
func TestOpenRevocationsInvalid(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	e := bytes.Repeat([]byte{0x17}, 16)
	for _, tt := range []struct {
		name    string
		payload any
	}{
		{"not a map", []any{1, 2, 3}},
		{"no seq", map[int]any{2: t0.Unix(), 3: [][]byte{e}}},
		{"no issued_at", map[int]any{1: 1, 3: [][]byte{e}}},
		{"no entries", map[int]any{1: 1, 2: t0.Unix()}},
		{"null entries", map[int]any{1: 1, 2: t0.Unix(), 3: nil}},
		{"negative seq", map[int]any{1: -1, 2: t0.Unix(), 3: [][]byte{}}},
		{"float issued_at", map[int]any{1: 1, 2: 1.5, 3: [][]byte{}}},
		{"short entry", map[int]any{1: 1, 2: t0.Unix(), 3: [][]byte{e[:15]}}},
		{"long entry", map[int]any{1: 1, 2: t0.Unix(), 3: [][]byte{append(e, 0)}}},
		{"text entry", map[int]any{1: 1, 2: t0.Unix(), 3: []any{"17171717171717171717171717171717"}}},
		{"duplicate entry", map[int]any{1: 1, 2: t0.Unix(), 3: [][]byte{e, e}}},
	} {
		data, err := signDocument(root, ContentTypeRevocations, tt.payload)
		if err != nil {
			t.Fatalf("%s: signDocument: %v", tt.name, err)
		}
		if r, err := OpenRevocations(data, root.Public()); err == nil {
			t.Errorf("OpenRevocations(%s) = seq %d, nil; want an error", tt.name, r.Seq())
		}
	}
}

func TestRevocationsSignNeedsIssueTime(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	if _, err := NewRevocations(1).Sign(root); err == nil {
		t.Errorf("Sign(list without issue time) = nil error; want an error")
	}
	r := NewRevocations(1)
	r.SetIssuedAt(t0)
	if _, err := r.Next().Sign(root); err == nil {
		t.Errorf("Next().Sign() = nil error; want an error (Next keeps no issue time)")
	}
}

// TestVerifyRevocationsAge runs a card through lists of every age.
func TestVerifyRevocationsAge(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	k := keyFor(t, AlgES256, "issuer")
	c := fullCard()
	c.Serial = "a1b2c3d4e5f60718"
	payload := issue(t, k, c)
	other := fullCard()
	other.Serial = "0000000000000001"
	otherPayload := issue(t, k, other)

	// list signs and reopens a list issued at iat revoking c, as a kiosk loads it.
	list := func(iat time.Time) *Revocations {
		r := NewRevocations(4)
		if err := r.Add(testIssuerName, c.Serial); err != nil {
			t.Fatal(err)
		}
		r.SetIssuedAt(iat)
		data, err := r.Sign(root)
		if err != nil {
			t.Fatal(err)
		}
		back, err := OpenRevocations(data, root.Public())
		if err != nil {
			t.Fatalf("OpenRevocations: %v", err)
		}
		return back
	}
	at := t0.Add(time.Hour)
	for _, tt := range []struct {
		name    string
		payload string
		revs    *Revocations
		maxAge  time.Duration
		status  Status
		stage   Stage
		stale   bool // ListsStale(at)
	}{
		{"fresh", otherPayload, list(at.Add(-time.Hour)), 72 * time.Hour, Valid, StageDone, false},
		{"exactly the maximum age", otherPayload, list(at.Add(-72 * time.Hour)), 72 * time.Hour, Valid, StageDone, false},
		{"a second too old", otherPayload, list(at.Add(-72*time.Hour - time.Second)), 72 * time.Hour, StaleLists, StageRevocation, true},
		{"issued after now (clock behind)", otherPayload, list(at.Add(time.Hour)), 72 * time.Hour, Valid, StageDone, false},
		{"old, but no limit", otherPayload, list(at.AddDate(-1, 0, 0)), 0, Valid, StageDone, false},
		{"no list, no limit", otherPayload, nil, 0, Valid, StageDone, false},
		{"no list, with a limit", otherPayload, nil, 72 * time.Hour, StaleLists, StageRevocation, true},
		{"revoked, fresh list", payload, list(at.Add(-time.Hour)), 72 * time.Hour, Revoked, StageRevocation, false},
		{"revoked, stale list", payload, list(at.AddDate(0, 0, -30)), 72 * time.Hour, Revoked, StageRevocation, true},
	} {
		v := &Verifier{Trust: k.trust(t), Revocations: tt.revs, MaxListAge: tt.maxAge}
		r := v.Verify(tt.payload, at)
		if r.Status != tt.status || r.Stage != tt.stage {
			t.Errorf("Verify(%s) = %s at %s (%v); want %s at %s", tt.name, r.Status, r.Stage, r.Err, tt.status, tt.stage)
		}
		if tt.status != Valid && (r.Card == nil || !r.SignatureOK) {
			t.Errorf("Verify(%s) = card %v, signature %v; want the card and a verified signature", tt.name, r.Card != nil, r.SignatureOK)
		}
		if got := v.ListsStale(at); got != tt.stale {
			t.Errorf("ListsStale(%s) = %v; want %v", tt.name, got, tt.stale)
		}
	}
}

func TestVerifyRevokedViaSignedList(t *testing.T) {
	root := keyFor(t, AlgES256, "root").signer
	k := keyFor(t, AlgEdDSA, "issuer")
	c := fullCard()
	c.Serial = "a1b2c3d4e5f60718"
	r := NewRevocations(1)
	if err := r.Add(testIssuerName, c.Serial); err != nil {
		t.Fatal(err)
	}
	r.SetIssuedAt(t0)
	data, err := r.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	list, err := OpenRevocations(data, root.Public())
	if err != nil {
		t.Fatal(err)
	}
	if list.Seq() != 1 || list.Len() != 1 || !list.IssuedAt().Equal(t0) {
		t.Errorf("OpenRevocations(Sign(list)) = seq %d, %d entries, issued %s; want seq 1, 1 entry, issued %s", list.Seq(), list.Len(), list.IssuedAt(), t0)
	}
	res := (&Verifier{Trust: k.trust(t), Revocations: list}).Verify(issue(t, k, c), t0)
	if res.Status != Revoked || res.Card == nil || res.Card.Serial != c.Serial {
		t.Errorf("Verify(revoked card) = %s; want %s with the card", res.Status, Revoked)
	}
}
