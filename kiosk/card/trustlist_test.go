package card

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card/cardtest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTrustListRoundTrip(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	es := keyFor(t, AlgES256, "issuer")
	ed := keyFor(t, AlgEdDSA, "issuer")
	in := &TrustList{Seq: 9, IssuedAt: t0.Add(300 * time.Millisecond), Entries: []TrustEntry{
		{Issuer: "SDC-NYC", Certificate: es.cert, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(2, 0, 0), Offices: []string{"NYC", "BOS"}},
		{Issuer: "SDC-SFO", PublicKey: ed.signer.Public(), NotBefore: t0, NotAfter: t0.AddDate(0, 6, 0), Offices: []string{AnyOffice}},
	}}
	data, err := in.Sign(root)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	out, err := OpenTrustList(data, root.Public())
	if err != nil {
		t.Fatalf("OpenTrustList(Sign(list)) = %v", err)
	}
	if out.Seq != 9 || !out.IssuedAt.Equal(t0) || len(out.Entries) != 2 {
		t.Fatalf("OpenTrustList(Sign(list)) = seq %d, issued %s, %d entries; want seq 9, issued %s, 2 entries", out.Seq, out.IssuedAt, len(out.Entries), t0)
	}
	for i, e := range out.Entries {
		want := in.Entries[i]
		wantPub := want.PublicKey
		if want.Certificate != nil {
			wantPub = want.Certificate.PublicKey
		}
		if e.Issuer != want.Issuer || !e.NotBefore.Equal(want.NotBefore) || !e.NotAfter.Equal(want.NotAfter) ||
			!slices.Equal(e.Offices, want.Offices) || !keyEqual(e.PublicKey, wantPub) ||
			(e.Certificate == nil) != (want.Certificate == nil) ||
			(e.Certificate != nil && !bytes.Equal(e.Certificate.Raw, want.Certificate.Raw)) {
			t.Errorf("entry %d = %+v; want %+v", i, e, want)
		}
		gotKID, err1 := e.KID()
		wantKID, err2 := want.KID()
		if err1 != nil || err2 != nil || !bytes.Equal(gotKID, wantKID) {
			t.Errorf("entry %d KID() = %x, %v; want %x, %v", i, gotKID, err1, wantKID, err2)
		}
	}
	if kid, _ := out.Entries[0].KID(); !bytes.Equal(kid, KIDOfCertificate(es.cert)) {
		t.Errorf("entry 0 KID() = %x; want the certificate kid %x", kid, KIDOfCertificate(es.cert))
	}
	tr, err := out.Trust()
	if err != nil || tr.Len() != 2 {
		t.Errorf("Trust() = %d keys, %v; want 2 keys, nil", tr.Len(), err)
	}
	// Empty lists are lists: no entry trusts nobody.
	empty := &TrustList{Seq: 1, IssuedAt: t0}
	data, err = empty.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := OpenTrustList(data, root.Public()); err != nil || len(l.Entries) != 0 {
		t.Errorf("OpenTrustList(empty list) = %v, %v; want no entries, nil", l, err)
	}
}

func TestTrustListSignInvalid(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	es := keyFor(t, AlgES256, "issuer")
	ed := keyFor(t, AlgEdDSA, "issuer")
	good := func() TrustEntry {
		return TrustEntry{Issuer: "SDC-NYC", Certificate: es.cert, NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0), Offices: []string{"NYC"}}
	}
	for _, tt := range []struct {
		name string
		edit func(l *TrustList, e *TrustEntry)
	}{
		{"no issue time", func(l *TrustList, e *TrustEntry) { l.IssuedAt = time.Time{} }},
		{"no issuer", func(l *TrustList, e *TrustEntry) { e.Issuer = "" }},
		{"issuer with a newline", func(l *TrustList, e *TrustEntry) { e.Issuer = "SDC\nNYC" }},
		{"no key", func(l *TrustList, e *TrustEntry) { e.Certificate = nil }},
		{"key not the certificate's", func(l *TrustList, e *TrustEntry) { e.PublicKey = ed.signer.Public() }},
		{"unsupported key", func(l *TrustList, e *TrustEntry) { e.Certificate, e.PublicKey = nil, "not a key" }},
		{"no not-before", func(l *TrustList, e *TrustEntry) { e.NotBefore = time.Time{} }},
		{"no not-after", func(l *TrustList, e *TrustEntry) { e.NotAfter = time.Time{} }},
		{"window reversed", func(l *TrustList, e *TrustEntry) { e.NotBefore, e.NotAfter = e.NotAfter, e.NotBefore }},
		{"no office", func(l *TrustList, e *TrustEntry) { e.Offices = nil }},
		{"empty office", func(l *TrustList, e *TrustEntry) { e.Offices = []string{"NYC", ""} }},
	} {
		e := good()
		l := &TrustList{Seq: 1, IssuedAt: t0}
		tt.edit(l, &e)
		l.Entries = []TrustEntry{e}
		if _, err := l.Sign(root); err == nil {
			t.Errorf("Sign(%s) = nil error; want an error", tt.name)
		}
		if _, err := l.Trust(); err == nil && tt.name != "no issue time" {
			t.Errorf("Trust(%s) = nil error; want an error", tt.name)
		}
	}
}

// TestOpenTrustListInvalid signs payloads Sign never writes.
func TestOpenTrustListInvalid(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root").signer
	es := keyFor(t, AlgES256, "issuer")
	spki, err := x509.MarshalPKIXPublicKey(es.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	entry := func(edit func(m map[int]any)) map[int]any {
		m := map[int]any{1: "SDC-NYC", 2: es.cert.Raw, 4: t0.Unix(), 5: t0.AddDate(1, 0, 0).Unix(), 6: []string{"NYC"}}
		edit(m)
		return m
	}
	list := func(entries ...map[int]any) map[int]any {
		return map[int]any{1: 1, 2: t0.Unix(), 3: entries}
	}
	for _, tt := range []struct {
		name    string
		payload any
	}{
		{"no seq", map[int]any{2: t0.Unix(), 3: []any{}}},
		{"no issued_at", map[int]any{1: 1, 3: []any{}}},
		{"no entries", map[int]any{1: 1, 2: t0.Unix()}},
		{"entries not an array", map[int]any{1: 1, 2: t0.Unix(), 3: map[int]any{}}},
		{"no iss", list(entry(func(m map[int]any) { delete(m, 1) }))},
		{"iss as bytes", list(entry(func(m map[int]any) { m[1] = []byte("SDC-NYC") }))},
		{"neither cert nor spki", list(entry(func(m map[int]any) { delete(m, 2) }))},
		{"both cert and spki", list(entry(func(m map[int]any) { m[3] = spki }))},
		{"cert not DER", list(entry(func(m map[int]any) { m[2] = []byte{0x30, 0x00} }))},
		{"spki not DER", list(entry(func(m map[int]any) { delete(m, 2); m[3] = []byte{0x30, 0x00} }))},
		{"no not_before", list(entry(func(m map[int]any) { delete(m, 4) }))},
		{"no not_after", list(entry(func(m map[int]any) { delete(m, 5) }))},
		{"not_after as text", list(entry(func(m map[int]any) { m[5] = "2027-01-01" }))},
		{"window reversed", list(entry(func(m map[int]any) { m[4], m[5] = m[5], m[4] }))},
		{"no offices", list(entry(func(m map[int]any) { delete(m, 6) }))},
		{"empty offices", list(entry(func(m map[int]any) { m[6] = []string{} }))},
		{"office as a number", list(entry(func(m map[int]any) { m[6] = []any{7} }))},
	} {
		data, err := signDocument(root, ContentTypeTrustList, tt.payload)
		if err != nil {
			t.Fatalf("%s: signDocument: %v", tt.name, err)
		}
		if l, err := OpenTrustList(data, root.Public()); err == nil {
			t.Errorf("OpenTrustList(%s) = %+v, nil; want an error", tt.name, l)
		}
	}
	// The same builder with nothing changed opens, so each row above fails
	// for its own reason; and a bare key opens too.
	for name, payload := range map[string]any{
		"cert":         list(entry(func(map[int]any) {})),
		"spki":         list(entry(func(m map[int]any) { delete(m, 2); m[3] = spki })),
		"unknown keys": map[int]any{1: 1, 2: t0.Unix(), 3: []any{entry(func(m map[int]any) { m[99] = "later" })}, 99: "later"},
	} {
		data, err := signDocument(root, ContentTypeTrustList, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenTrustList(data, root.Public()); err != nil {
			t.Errorf("OpenTrustList(%s) = %v; want nil", name, err)
		}
	}
}

// listTrust signs entries as a trust list, opens it as a kiosk does and
// returns its Trust.
func listTrust(t *testing.T, entries ...TrustEntry) *Trust {
	t.Helper()
	root := keyFor(t, AlgEdDSA, "root").signer
	data, err := (&TrustList{Seq: 1, IssuedAt: t0, Entries: entries}).Sign(root)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	l, err := OpenTrustList(data, root.Public())
	if err != nil {
		t.Fatalf("OpenTrustList: %v", err)
	}
	tr, err := l.Trust()
	if err != nil {
		t.Fatalf("Trust: %v", err)
	}
	return tr
}

// TestVerifyTrustListLimits checks that a key from a trust list signs only
// cards of its issuer, its offices and its window.
func TestVerifyTrustListLimits(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	ed := keyFor(t, AlgEdDSA, "issuer")
	entry := func(edit func(e *TrustEntry)) TrustEntry {
		e := TrustEntry{
			Issuer: testIssuerName, Certificate: k.cert,
			NotBefore: t0.AddDate(0, -1, 0), NotAfter: t0, Offices: []string{"SFO-1", "XFO"},
		}
		if edit != nil {
			edit(&e)
		}
		return e
	}
	// card issues fullCard (office SFO-1) with iat moved by d and office set.
	card := func(iss string, d time.Duration, office string) string {
		c := fullCard()
		c.IssuedAt, c.ExpiresAt = t0.Add(d), t0.AddDate(1, 0, 0)
		c.Office = office
		i := k.issuer()
		i.Name = iss
		p, err := i.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	unlimited := k.trust(t)
	for _, tt := range []struct {
		name    string
		trust   *Trust
		payload string
		at      time.Time // zero: t0 + 1h
		status  Status
		stage   Stage
	}{
		{"valid", listTrust(t, entry(nil)), card(testIssuerName, 0, "SFO-1"), time.Time{}, Valid, StageDone},
		{"valid, another listed office", listTrust(t, entry(nil)), card(testIssuerName, 0, "XFO"), time.Time{}, Valid, StageDone},
		{"valid, iat at not-before", listTrust(t, entry(nil)), card(testIssuerName, -t0.Sub(t0.AddDate(0, -1, 0)), "SFO-1"), time.Time{}, Valid, StageDone},
		{"valid, any office", listTrust(t, entry(func(e *TrustEntry) { e.Offices = []string{AnyOffice} })), card(testIssuerName, 0, "ZZZ"), time.Time{}, Valid, StageDone},
		{"office not the key's", listTrust(t, entry(nil)), card(testIssuerName, 0, "NYC"), time.Time{}, UnknownIssuer, StageClaim},
		{"office differs in case", listTrust(t, entry(nil)), card(testIssuerName, 0, "sfo-1"), time.Time{}, UnknownIssuer, StageClaim},
		{"issuer not the key's", listTrust(t, entry(nil)), card("SDC-OTHER", 0, "SFO-1"), time.Time{}, UnknownIssuer, StageClaim},
		{"iat a second after not-after", listTrust(t, entry(nil)), card(testIssuerName, time.Second, "SFO-1"), time.Time{}, UnknownIssuer, StageClaim},
		{"iat before not-before", listTrust(t, entry(nil)), card(testIssuerName, -40*24*time.Hour, "SFO-1"), time.Time{}, UnknownIssuer, StageClaim},
		{"key not listed", listTrust(t, entry(func(e *TrustEntry) { e.Certificate = ed.cert })), card(testIssuerName, 0, "SFO-1"), time.Time{}, UnknownIssuer, StageKID},
		{"expired beats unauthorized", listTrust(t, entry(nil)), card("SDC-OTHER", 0, "SFO-1"), t0.AddDate(2, 0, 0), Expired, StageValidity},
		// The same key in two entries: either may authorize the card.
		{"valid, second entry's office", listTrust(t, entry(nil), entry(func(e *TrustEntry) { e.Offices = []string{"NYC"} })), card(testIssuerName, 0, "NYC"), time.Time{}, Valid, StageDone},
		{"valid, second entry's window", listTrust(t, entry(nil), entry(func(e *TrustEntry) { e.NotBefore, e.NotAfter = t0, t0.AddDate(0, 0, 1) })), card(testIssuerName, time.Second, "SFO-1"), time.Time{}, Valid, StageDone},
		{"valid, second entry's issuer", listTrust(t, entry(nil), entry(func(e *TrustEntry) { e.Issuer = "SDC-OTHER" })), card("SDC-OTHER", 0, "SFO-1"), time.Time{}, Valid, StageDone},
		// Keys added without a list are not limited.
		{"unlimited key, any issuer", unlimited, card("SDC-OTHER", time.Second, "NYC"), time.Time{}, Valid, StageDone},
	} {
		at := tt.at
		if at.IsZero() {
			at = t0.Add(time.Hour)
		}
		r := (&Verifier{Trust: tt.trust}).Verify(tt.payload, at)
		if r.Status != tt.status || r.Stage != tt.stage {
			t.Errorf("Verify(%s) = %s at %s (%v); want %s at %s", tt.name, r.Status, r.Stage, r.Err, tt.status, tt.stage)
		}
		if r.Err != nil && bytes.Contains([]byte(r.Err.Error()), []byte("NYC")) {
			t.Errorf("Verify(%s).Err = %v; want no office code in it", tt.name, r.Err)
		}
	}
}

// TestVerifySharedKID: keys of a list that share a kid are each tried, and
// only one whose signature verifies may authorize the card.
func TestVerifySharedKID(t *testing.T) {
	k := keyFor(t, AlgES256, "issuer")
	other := keyFor(t, AlgES256, "other")
	ed := keyFor(t, AlgEdDSA, "issuer")
	kid := KIDOfCertificate(k.cert)
	limited := func(pub crypto.PublicKey, offices ...string) trustedKey {
		return trustedKey{pub: pub, limited: true, issuer: testIssuerName, notBefore: t0.AddDate(-1, 0, 0), notAfter: t0.AddDate(1, 0, 0), offices: offices}
	}
	build := func(keys ...trustedKey) *Trust {
		tr := NewTrust()
		for _, key := range keys {
			if err := tr.addKey(kid, key); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	payload := issue(t, k, fullCard()) // office SFO-1
	for _, tt := range []struct {
		name   string
		trust  *Trust
		status Status
		stage  Stage
	}{
		{"wrong keys first", build(limited(ed.cert.PublicKey, "SFO-1"), limited(other.cert.PublicKey, "SFO-1"), limited(k.cert.PublicKey, "SFO-1")), Valid, StageDone},
		{"right key last", build(limited(other.cert.PublicKey, AnyOffice), limited(k.cert.PublicKey, "SFO-1")), Valid, StageDone},
		// Another key under the kid may issue for the office, but it did
		// not sign the card.
		{"office only on a key that did not sign", build(limited(other.cert.PublicKey, "SFO-1"), limited(k.cert.PublicKey, "NYC")), UnknownIssuer, StageClaim},
		{"no key verifies", build(limited(other.cert.PublicKey, AnyOffice), limited(ed.cert.PublicKey, AnyOffice)), BadSignature, StageSignature},
		{"no key of the alg", build(limited(ed.cert.PublicKey, AnyOffice)), BadSignature, StageSignature},
	} {
		r := (&Verifier{Trust: tt.trust}).Verify(payload, t0.Add(time.Hour))
		if r.Status != tt.status || r.Stage != tt.stage {
			t.Errorf("Verify(%s) = %s at %s (%v); want %s at %s", tt.name, r.Status, r.Stage, r.Err, tt.status, tt.stage)
		}
	}
	// The same key with the same limits twice is one key; with other limits, two.
	tr := build(limited(k.cert.PublicKey, "SFO-1"), limited(k.cert.PublicKey, "SFO-1"), limited(k.cert.PublicKey, "NYC"))
	if tr.Len() != 2 {
		t.Errorf("Len() = %d; want 2", tr.Len())
	}
}

// TestTrustSkipsUnsupportedKeys: a key no card may be signed with, in a PEM
// trust file or a signed trust list, is skipped and counted; the other keys
// still verify their cards, and a card carrying the skipped key's kid is an
// unknown issuer that says why.
func TestTrustSkipsUnsupportedKeys(t *testing.T) {
	good := keyFor(t, AlgES256, "issuer")
	p384 := cardtest.P384Certificate(t)
	p384Key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384SPKI, err := x509.MarshalPKIXPublicKey(p384Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	p384KeyKID, err := KIDOfKey(p384Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	window := func(e TrustEntry) TrustEntry {
		e.NotBefore, e.NotAfter, e.Offices = t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0), []string{AnyOffice}
		return e
	}
	pemTrust := func(blocks ...[]byte) *Trust {
		t.Helper()
		tr, err := ParseTrustPEM(bytes.Join(blocks, nil))
		if err != nil {
			t.Fatalf("ParseTrustPEM: %v", err)
		}
		return tr
	}
	for _, tt := range []struct {
		name       string
		trust      *Trust
		skippedKID []byte
		issuer     string // of the skipped key
	}{
		{"PEM: P-384 certificate first", pemTrust(MarshalCertificatePEM(p384), MarshalCertificatePEM(good.cert)), KIDOfCertificate(p384), ""},
		{"PEM: P-384 public key", pemTrust(MarshalCertificatePEM(good.cert),
			pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384SPKI})), p384KeyKID, ""},
		{"PEM: P-384 certificate twice", pemTrust(MarshalCertificatePEM(p384), MarshalCertificatePEM(good.cert), MarshalCertificatePEM(p384)),
			KIDOfCertificate(p384), ""},
		{"signed list: P-384 certificate", listTrust(t,
			window(TrustEntry{Issuer: "SDC-FAR", Certificate: p384}),
			window(TrustEntry{Issuer: testIssuerName, Certificate: good.cert})), KIDOfCertificate(p384), "SDC-FAR"},
		{"signed list: P-384 bare key", listTrust(t,
			window(TrustEntry{Issuer: testIssuerName, Certificate: good.cert}),
			window(TrustEntry{Issuer: "SDC-FAR", PublicKey: p384Key.Public()})), p384KeyKID, "SDC-FAR"},
	} {
		if tt.trust.Len() != 1 {
			t.Errorf("%s: Len() = %d; want 1, the P-256 key", tt.name, tt.trust.Len())
		}
		s := tt.trust.Skipped()
		if len(s) != 1 || !bytes.Equal(s[0].KID, tt.skippedKID) || s[0].Issuer != tt.issuer || s[0].Err == nil ||
			!strings.Contains(s[0].Err.Error(), "P-384") {
			t.Errorf("%s: Skipped() = %+v; want one key, kid %x, issuer %q, naming P-384", tt.name, s, tt.skippedKID, tt.issuer)
		}
		v := &Verifier{Trust: tt.trust}
		if r := v.Verify(issue(t, good, fullCard()), t0.Add(time.Hour)); r.Status != Valid {
			t.Errorf("%s: Verify(a card of the P-256 key) = %s (%v); want valid", tt.name, r.Status, r.Err)
		}
		// A card naming the skipped key's kid: no key to check it with.
		i := good.issuer()
		i.KID = tt.skippedKID
		p, err := i.Issue(fullCard())
		if err != nil {
			t.Fatal(err)
		}
		r := v.Verify(p, t0.Add(time.Hour))
		if r.Status != UnknownIssuer || r.Stage != StageKID || r.Err == nil || !strings.Contains(r.Err.Error(), "skipped") {
			t.Errorf("%s: Verify(a card of the skipped kid) = %s at %s (%v); want unknown_issuer at kid, saying skipped",
				tt.name, r.Status, r.Stage, r.Err)
		}
	}

	// Only keys no card may use: nothing to trust, which a PEM file is not
	// for; a signed list says so by trusting no key.
	if _, err := ParseTrustPEM(MarshalCertificatePEM(p384)); err == nil || !strings.Contains(err.Error(), "1 skipped") {
		t.Errorf("ParseTrustPEM(only a P-384 certificate) = %v; want an error counting 1 skipped", err)
	}
	if tr := listTrust(t, window(TrustEntry{Issuer: "SDC-FAR", Certificate: p384})); tr.Len() != 0 || len(tr.Skipped()) != 1 {
		t.Errorf("Trust(a list of one P-384 key) = %d keys, %d skipped; want 0, 1", tr.Len(), len(tr.Skipped()))
	}
	// The entry itself is kept, and says why it is of no use.
	root := keyFor(t, AlgEdDSA, "root").signer
	data, err := (&TrustList{Seq: 1, IssuedAt: t0, Entries: []TrustEntry{window(TrustEntry{Issuer: "SDC-FAR", Certificate: p384})}}).Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenTrustList(data, root.Public())
	if err != nil || len(l.Entries) != 1 || l.Entries[0].CheckKey() == nil {
		t.Errorf("OpenTrustList(a list of one P-384 key) = %+v, %v; want the entry, whose CheckKey fails", l, err)
	}
	e := window(TrustEntry{Issuer: testIssuerName, Certificate: good.cert})
	if err := e.CheckKey(); err != nil {
		t.Errorf("CheckKey(a P-256 certificate) = %v; want nil", err)
	}
}
