package trust

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

func TestParseEntry(t *testing.T) {
	dir := t.TempDir()
	key, cert, err := card.GenerateKey(card.AlgES256, "NYC")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "nyc.pem"), filepath.Join(dir, "nyc-pub.pem")
	pub, err := card.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	writeListFile(t, certFile, card.MarshalCertificatePEM(cert))
	writeListFile(t, keyFile, pub)
	const window = ",not-before=2026-01-01T00:00:00Z,not-after=2026-12-31T00:00:00Z"

	e, err := ParseEntry("iss=SDC-NYC,cert=" + certFile + ",offices=NYC+BOS" + window)
	if err != nil || e.Issuer != "SDC-NYC" || e.Certificate == nil || len(e.Offices) != 2 || e.Offices[1] != "BOS" ||
		!e.NotAfter.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseEntry(cert) = %+v, %v; want SDC-NYC's certificate for NYC and BOS in 2026", e, err)
	}
	if e, err := ParseEntry("iss=SDC-NYC,key=" + keyFile + ",offices=*" + window); err != nil || e.PublicKey == nil {
		t.Errorf("ParseEntry(key) = %+v, %v; want the bare key", e, err)
	}
	for _, spec := range []string{
		"",
		"iss=SDC-NYC,cert=" + certFile + ",key=" + keyFile + ",offices=NYC" + window,
		"iss=SDC-NYC,offices=NYC" + window,
		"iss=SDC-NYC,cert=" + certFile + ",offices=NYC",
		"iss=SDC-NYC,cert=" + certFile + ",offices=NYC,colour=red" + window,
		"iss=SDC-NYC,iss=SDC-BOS,cert=" + certFile + ",offices=NYC" + window,
		"iss=SDC-NYC,cert=" + certFile + ",offices=NYC,not-before=yesterday,not-after=2026-12-31T00:00:00Z",
		"iss=SDC-NYC,key=" + certFile + ",offices=NYC" + window,
		"iss=SDC-NYC,cert=" + filepath.Join(dir, "missing.pem") + ",offices=NYC" + window,
		"iss=,cert=" + certFile + ",offices=NYC" + window,
	} {
		if e, err := ParseEntry(spec); err == nil {
			t.Errorf("ParseEntry(%q) = %+v; want an error", spec, e)
		}
	}
}

// Each edition of a list made from the one in its file is the next: seq
// one higher, the entries kept; a file of another root is refused.
func TestNextEditions(t *testing.T) {
	dir := t.TempDir()
	root, _, err := card.GenerateKey(card.AlgEdDSA, "root")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := card.GenerateKey(card.AlgEdDSA, "other")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	revFile := filepath.Join(dir, "revocations.cose")
	for seq, serial := range []string{"0a0b", "0c0d"} {
		r, signed, err := NextRevocations(revFile, root, "SDC-TEST", serial, at)
		if err != nil || r.Seq() != uint64(seq+1) || r.Len() != seq+1 {
			t.Fatalf("NextRevocations(#%d) = %v, %v; want seq %d with %d entries", seq+1, r, err, seq+1, seq+1)
		}
		writeListFile(t, revFile, signed)
	}
	if _, _, err := NextRevocations(revFile, other, "SDC-TEST", "0e0f", at); err == nil {
		t.Error("NextRevocations(a list of another root) = nil error; want one")
	}

	rosterFile := filepath.Join(dir, "roster.cose")
	for seq := uint64(1); seq <= 2; seq++ {
		r, err := NextRoster(rosterFile, root.Public(), at)
		if err != nil || r.Seq() != seq {
			t.Fatalf("NextRoster(#%d) = %v, %v; want seq %d", seq, r, err, seq)
		}
		signed, err := r.Sign(root)
		if err != nil {
			t.Fatal(err)
		}
		writeListFile(t, rosterFile, signed)
	}
	if _, err := NextRoster(rosterFile, other.Public(), at); err == nil {
		t.Error("NextRoster(a roster of another root) = nil error; want one")
	}

	listFile := filepath.Join(dir, "trustlist.cose")
	if err := CheckTrustListSeq(listFile, root.Public(), 1); err != nil {
		t.Errorf("CheckTrustListSeq(no file) = %v; want nil", err)
	}
	signed, err := (&card.TrustList{Seq: 5, IssuedAt: at}).Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	writeListFile(t, listFile, signed)
	for _, tt := range []struct {
		seq  uint64
		file string
		ok   bool
	}{
		{6, listFile, true},
		{5, listFile, false},
		{4, listFile, false},
		{6, revFile, false}, // not a trust list
	} {
		if err := CheckTrustListSeq(tt.file, root.Public(), tt.seq); (err == nil) != tt.ok {
			t.Errorf("CheckTrustListSeq(%s, seq %d) = %v; want ok %v", filepath.Base(tt.file), tt.seq, err, tt.ok)
		}
	}
}

func writeListFile(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// An issuer is its key and its certificate's kid; a key not the
// certificate's is refused.
func TestReadIssuer(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, key crypto.Signer, cert *x509.Certificate) (keyFile, certFile string) {
		t.Helper()
		keyPEM, err := card.MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile, certFile = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pem")
		writeListFile(t, keyFile, keyPEM)
		writeListFile(t, certFile, card.MarshalCertificatePEM(cert))
		return keyFile, certFile
	}
	key, cert, err := card.GenerateKey(card.AlgES256, "NYC")
	if err != nil {
		t.Fatal(err)
	}
	other, otherCert, err := card.GenerateKey(card.AlgEdDSA, "SFO")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile := write("nyc", key, cert)
	otherKey, _ := write("sfo", other, otherCert)
	i, err := ReadIssuer(keyFile, certFile)
	if err != nil || !bytes.Equal(i.KID, card.KIDOfCertificate(cert)) {
		t.Fatalf("ReadIssuer() = %+v, %v; want the certificate's kid", i, err)
	}
	if _, err := ReadIssuer(otherKey, certFile); err == nil || !strings.Contains(err.Error(), "does not hold the key") {
		t.Errorf("ReadIssuer(another key) = %v; want it refused", err)
	}
	if _, err := ReadIssuer(keyFile, filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("ReadIssuer(no certificate) = nil error; want one")
	}
}
