package staff

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertificateMadeOnce: the first start makes a P-256 key (0600) and a
// self-signed certificate for the hosts, valid 10 years; a second start
// serves the same one.
func TestCertificateMadeOnce(t *testing.T) {
	state := t.TempDir()
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	cfg := func() Config {
		return Config{StateDir: state, CertHosts: []string{"kiosk-lobby", "kiosk-lobby.local", "192.0.2.7", "::1"},
			Status: testStatusFunc, Now: func() time.Time { return now }}
	}
	first, err := New(cfg())
	if err != nil {
		t.Fatal(err)
	}
	dir := Dir(state)
	fi, err := os.Stat(filepath.Join(dir, keyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	c := parseCert(t, filepath.Join(dir, certFileName))
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key = %T; want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("certificate not self-signed: %v", err)
	}
	if got := c.NotAfter.Sub(now); got < certValidity-time.Minute || got > certValidity+time.Minute {
		t.Errorf("valid for %v after now; want %v", got, certValidity)
	}
	if strings.Join(c.DNSNames, " ") != "kiosk-lobby kiosk-lobby.local" || len(c.IPAddresses) != 2 ||
		c.IPAddresses[0].String() != "192.0.2.7" || c.IPAddresses[1].String() != "::1" {
		t.Errorf("names %v, addresses %v; want the hosts given", c.DNSNames, c.IPAddresses)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("extended key usage = %v; want server auth", c.ExtKeyUsage)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(c), DNSName: "kiosk-lobby.local", CurrentTime: now}); err != nil {
		t.Errorf("a browser trusting it could not verify it for kiosk-lobby.local: %v", err)
	}

	now = now.Add(24 * time.Hour)
	second, err := New(cfg())
	if err != nil {
		t.Fatal(err)
	}
	if first.Fingerprint() != second.Fingerprint() {
		t.Errorf("second start: fingerprint %s; want the first's %s", second.Fingerprint(), first.Fingerprint())
	}

	// A power cut between the key and the certificate: the next start
	// makes the certificate for the key it has.
	keyBefore := readFile(t, filepath.Join(dir, keyFileName))
	if err := os.Remove(filepath.Join(dir, certFileName)); err != nil {
		t.Fatal(err)
	}
	third, err := New(cfg())
	if err != nil {
		t.Fatalf("New with a key and no certificate: %v", err)
	}
	if third.Fingerprint() == first.Fingerprint() {
		t.Errorf("no new certificate was made")
	}
	if string(readFile(t, filepath.Join(dir, keyFileName))) != string(keyBefore) {
		t.Errorf("the key was replaced")
	}
	if c3 := parseCert(t, filepath.Join(dir, certFileName)); !c3.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Errorf("the new certificate is not for the key kept")
	}

	// A certificate without its key is not made good by a new key.
	if err := os.Remove(filepath.Join(dir, keyFileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg()); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("New with a certificate and no key = %v; want an error saying so", err)
	}
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// TestConfiguredCertificate: a configured pair is served instead, and
// nothing is made; one file of the pair alone is an error.
func TestConfiguredCertificate(t *testing.T) {
	src := t.TempDir()
	if _, err := New(Config{StateDir: src, CertHosts: []string{"localhost"}, Status: testStatusFunc}); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(Dir(src), certFileName), filepath.Join(Dir(src), keyFileName)
	want, err := LoadFingerprint(src, "")
	if err != nil {
		t.Fatal(err)
	}

	state := t.TempDir()
	s, err := New(Config{StateDir: state, CertFile: certFile, KeyFile: keyFile, Status: testStatusFunc})
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != want {
		t.Errorf("Fingerprint = %s; want the configured certificate's %s", s.Fingerprint(), want)
	}
	if got, err := LoadFingerprint(state, certFile); err != nil || got != want {
		t.Errorf("LoadFingerprint(configured) = %s, %v; want %s", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(Dir(state), certFileName)); !os.IsNotExist(err) {
		t.Errorf("a certificate was made beside the configured one: %v", err)
	}
	if _, err := New(Config{StateDir: state, CertFile: certFile, Status: testStatusFunc}); err == nil {
		t.Errorf("New with a certificate and no key file = nil error; want one")
	}
}
