package card

import (
	"bytes"
	"crypto"
	"errors"
	"testing"
	"time"
)

// signedLists returns a trust list and a revocation list signed by root.
func signedLists(t *testing.T, root crypto.Signer) (trustList, revocations []byte) {
	t.Helper()
	issuer := keyFor(t, AlgES256, "issuer")
	l := &TrustList{Seq: 3, IssuedAt: t0, Entries: []TrustEntry{{
		Issuer: testIssuerName, Certificate: issuer.cert,
		NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(1, 0, 0), Offices: []string{AnyOffice},
	}}}
	tl, err := l.Sign(root)
	if err != nil {
		t.Fatalf("TrustList.Sign: %v", err)
	}
	r := NewRevocations(5)
	if err := r.Add(testIssuerName, "0102030405060708"); err != nil {
		t.Fatal(err)
	}
	r.SetIssuedAt(t0)
	rl, err := r.Sign(root)
	if err != nil {
		t.Fatalf("Revocations.Sign: %v", err)
	}
	return tl, rl
}

// openers opens a document as each kind, reporting its seq.
var openers = map[string]func(data []byte, root crypto.PublicKey) (uint64, error){
	"trust list": func(data []byte, root crypto.PublicKey) (uint64, error) {
		l, err := OpenTrustList(data, root)
		if err != nil {
			return 0, err
		}
		return l.Seq, nil
	},
	"revocation list": func(data []byte, root crypto.PublicKey) (uint64, error) {
		r, err := OpenRevocations(data, root)
		if err != nil {
			return 0, err
		}
		return r.Seq(), nil
	},
}

func TestSignedDocuments(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgEdDSA, AlgPS256} {
		root := keyFor(t, alg, "root")
		other := keyFor(t, alg, "other root")
		tl, rl := signedLists(t, root.signer)
		docs := map[string][]byte{"trust list": tl, "revocation list": rl}
		seqs := map[string]uint64{"trust list": 3, "revocation list": 5}
		for kind, data := range docs {
			open := openers[kind]
			if seq, err := open(data, root.signer.Public()); err != nil || seq != seqs[kind] {
				t.Errorf("%s: open(%s) = seq %d, %v; want seq %d, nil", alg, kind, seq, err, seqs[kind])
			}
			if _, err := open(data, other.signer.Public()); err == nil {
				t.Errorf("%s: open(%s, another root) = nil error; want an error", alg, kind)
			}
			if _, err := open(data, nil); err == nil {
				t.Errorf("%s: open(%s, no root) = nil error; want an error", alg, kind)
			}
			if _, err := open(data, root.cert); err == nil {
				t.Errorf("%s: open(%s, a certificate for a key) = nil error; want an error", alg, kind)
			}
			for otherKind, otherOpen := range openers {
				if otherKind == kind {
					continue
				}
				if _, err := otherOpen(data, root.signer.Public()); err == nil {
					t.Errorf("%s: a %s opened as a %s = nil error; want an error", alg, kind, otherKind)
				}
			}
		}
	}
}

// TestSignedDocumentTampered flips each bit of every byte in turn: no
// change may be accepted.
func TestSignedDocumentTampered(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root")
	tl, rl := signedLists(t, root.signer)
	for kind, data := range map[string][]byte{"trust list": tl, "revocation list": rl} {
		open := openers[kind]
		for i := range data {
			for bit := range 8 {
				bad := bytes.Clone(data)
				bad[i] ^= 1 << bit
				if _, err := open(bad, root.signer.Public()); err == nil {
					t.Errorf("open(%s with byte %d bit %d flipped) = nil error; want an error", kind, i, bit)
				}
			}
		}
		if _, err := open(data[:len(data)-1], root.signer.Public()); err == nil {
			t.Errorf("open(%s cut short) = nil error; want an error", kind)
		}
		if _, err := open(append(bytes.Clone(data), 0), root.signer.Public()); err == nil {
			t.Errorf("open(%s with a byte after it) = nil error; want an error", kind)
		}
	}
	if _, err := OpenRevocations(make([]byte, MaxDocumentLen+1), root.signer.Public()); err == nil {
		t.Errorf("OpenRevocations(%d bytes) = nil error; want an error", MaxDocumentLen+1)
	}
}

func TestCheckSeq(t *testing.T) {
	for _, tt := range []struct {
		held, got uint64
		ok        bool
	}{
		{0, 0, true},
		{0, 1, true},
		{5, 5, true},
		{5, 6, true},
		{5, 4, false},
		{1, 0, false},
		{1 << 63, 1<<63 - 1, false},
	} {
		err := CheckSeq("revocation list", tt.held, tt.got)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrRollback)) {
			t.Errorf("CheckSeq(held %d, got %d) = %v; want ok %v, else ErrRollback", tt.held, tt.got, err, tt.ok)
		}
	}
}

// TestSignedDocumentTimes: a list keeps its issue time in whole seconds.
func TestSignedDocumentTimes(t *testing.T) {
	root := keyFor(t, AlgEdDSA, "root")
	r := NewRevocations(1)
	r.SetIssuedAt(t0.Add(1500 * time.Millisecond))
	data, err := r.Sign(root.signer)
	if err != nil {
		t.Fatal(err)
	}
	back, err := OpenRevocations(data, root.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Second); !back.IssuedAt().Equal(want) {
		t.Errorf("OpenRevocations(Sign(issued %s)).IssuedAt() = %s; want %s", t0.Add(1500*time.Millisecond), back.IssuedAt(), want)
	}
}

func TestPublicKeyPEM(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgPS256, AlgEdDSA} {
		k := keyFor(t, alg, "root")
		data, err := MarshalPublicKeyPEM(k.signer.Public())
		if err != nil {
			t.Fatalf("MarshalPublicKeyPEM(%s) = %v", alg, err)
		}
		pub, err := ParsePublicKeyPEM(data)
		if err != nil || !keyEqual(pub, k.signer.Public()) {
			t.Errorf("ParsePublicKeyPEM(MarshalPublicKeyPEM(%s key)) = %v, %v; want the key", alg, pub, err)
		}
	}
	k := keyFor(t, AlgEdDSA, "root")
	good, _ := MarshalPublicKeyPEM(k.signer.Public())
	priv, _ := MarshalPrivateKeyPEM(k.signer)
	for name, data := range map[string][]byte{
		"empty":             nil,
		"not PEM":           []byte("hello"),
		"a certificate":     MarshalCertificatePEM(k.cert),
		"a private key":     priv,
		"two keys":          append(bytes.Clone(good), good...),
		"key then garbage":  append(bytes.Clone(good), "x"...),
		"key bytes garbled": bytes.Replace(good, []byte("MCow"), []byte("MCox"), 1),
	} {
		if _, err := ParsePublicKeyPEM(data); err == nil {
			t.Errorf("ParsePublicKeyPEM(%s) = nil error; want an error", name)
		}
	}
	if _, err := MarshalPublicKeyPEM("not a key"); err == nil {
		t.Errorf("MarshalPublicKeyPEM(a string) = nil error; want an error")
	}
}

// FuzzOpenDocuments: no input makes either list's parser panic, and what
// opens is what the root signed (its wrapping may differ: an untagged
// COSE_Sign1 is accepted too).
func FuzzOpenDocuments(f *testing.F) {
	root := keyFor(f, AlgEdDSA, "root")
	issuer := keyFor(f, AlgES256, "issuer")
	l := &TrustList{Seq: 1, IssuedAt: t0, Entries: []TrustEntry{{
		Issuer: testIssuerName, Certificate: issuer.cert, NotBefore: t0, NotAfter: t0, Offices: []string{AnyOffice},
	}}}
	tl, err := l.Sign(root.signer)
	if err != nil {
		f.Fatal(err)
	}
	r := NewRevocations(1)
	r.SetIssuedAt(t0)
	rl, err := r.Sign(root.signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tl)
	f.Add(rl)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := OpenTrustList(data, root.signer.Public()); err == nil && (l.Seq != 1 || len(l.Entries) != 1) {
			t.Errorf("OpenTrustList(%x) = seq %d, %d entries; want seq 1, 1 entry or an error", data, l.Seq, len(l.Entries))
		}
		if r, err := OpenRevocations(data, root.signer.Public()); err == nil && (r.Seq() != 1 || r.Len() != 0) {
			t.Errorf("OpenRevocations(%x) = seq %d, %d entries; want seq 1, no entry or an error", data, r.Seq(), r.Len())
		}
	})
}
