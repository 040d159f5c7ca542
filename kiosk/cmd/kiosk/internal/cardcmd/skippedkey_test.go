package cardcmd

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card/cardtest"
)

// TestCardVerifySkipsUnusableKey: a PEM trust file and a signed trust list
// each holding a P-384 certificate beside a good P-256 one still verify the
// P-256 issuer's cards ("kiosk card verify" prints its JSON, result
// valid), say which key they skipped, and "trustlist show" counts it. A
// list signed by another root is still refused whole.
func TestCardVerifySkipsUnusableKey(t *testing.T) {
	dir := t.TempDir()
	rootKey, rootPub := filepath.Join(dir, "root-key.pem"), filepath.Join(dir, "root.pem")
	otherRootKey := filepath.Join(dir, "other-root-key.pem")
	key, cert := filepath.Join(dir, "issuer.key"), filepath.Join(dir, "issuer.pem")
	for _, args := range [][]string{
		{"--alg", "EdDSA", "--key", rootKey, "--pub", rootPub},
		{"--alg", "EdDSA", "--key", otherRootKey, "--pub", filepath.Join(dir, "other-root.pem")},
		{"--alg", "ES256", "--subject", "Test Issuer", "--key", key, "--cert", cert},
	} {
		if _, stderr, err := cardRun(t, "", append([]string{"keygen"}, args...)...); err != nil {
			t.Fatalf("card keygen %q = %v; stderr %s", args, err, stderr)
		}
	}
	p384 := cardtest.P384Certificate(t)
	p384File := filepath.Join(dir, "p384.pem")
	if err := os.WriteFile(p384File, card.MarshalCertificatePEM(p384), 0o644); err != nil {
		t.Fatal(err)
	}
	p384KID := hex.EncodeToString(card.KIDOfCertificate(p384))
	stdout, stderr, err := cardRun(t, "", "issue", "--key", key, "--cert", cert, "--iss", "SDC-TEST", "--a-number", "1",
		"--dob", "1990-01-01", "--office", "XFO", "--serial", "0a0b0c0d", "--issued-at", "2026-01-01T00:00:00Z")
	if err != nil {
		t.Fatalf("card issue = %v; stderr %s", err, stderr)
	}
	payload := strings.TrimSpace(stdout)

	// The PEM trust file: the P-384 certificate first.
	pemTrust := filepath.Join(dir, "issuers.pem")
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemTrust, append(card.MarshalCertificatePEM(p384), certPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	// The signed trust list, made with the command.
	sign := func(rootKey, out string) (stderr string, err error) {
		const window = ",offices=*,not-before=2025-01-01T00:00:00Z,not-after=2027-01-01T00:00:00Z"
		_, stderr, err = cardRun(t, "", "trustlist", "sign", "--root-key", rootKey, "--seq", "1", "--out", out,
			"--entry", "iss=SDC-FAR,cert="+p384File+window, "--entry", "iss=SDC-TEST,cert="+cert+window)
		return stderr, err
	}
	list := filepath.Join(dir, "trustlist.cose")
	stderr, err = sign(rootKey, list)
	if err != nil {
		t.Fatalf("card trustlist sign (with a P-384 certificate) = %v; stderr %s", err, stderr)
	}
	if !strings.Contains(stderr, "--entry 1") || !strings.Contains(stderr, "skip") || strings.Contains(stderr, "--entry 2") {
		t.Errorf("card trustlist sign: stderr %q; want a warning that kiosks skip entry 1, and only it", stderr)
	}

	for _, tt := range []struct {
		name string
		args []string
	}{
		{"PEM trust file", []string{"--trust", pemTrust}},
		{"signed trust list", []string{"--root", rootPub, "--trust", list}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"verify"}, tt.args...), "--at", "2026-01-02T00:00:00Z", payload)
			stdout, stderr, err := cardRun(t, "", args...)
			if err != nil {
				t.Errorf("card verify = %v; want nil (stderr %s)", err, stderr)
			}
			if m := cardVerifyJSON(t, stdout); m["result"] != "valid" {
				t.Errorf("card verify = %s; want result valid", stdout)
			}
			if !strings.Contains(stderr, "skipped") || !strings.Contains(stderr, p384KID) {
				t.Errorf("card verify: stderr %q; want the skipped key's kid %s", stderr, p384KID)
			}
		})
	}

	stdout, stderr, err = cardRun(t, "", "trustlist", "show", "--root", rootPub, list)
	if err != nil {
		t.Fatalf("card trustlist show = %v; stderr %s", err, stderr)
	}
	var shown trustListOutput
	if err := json.Unmarshal([]byte(stdout), &shown); err != nil {
		t.Fatalf("card trustlist show printed %s: %v", stdout, err)
	}
	if shown.SkippedKeys != 1 || len(shown.Entries) != 2 ||
		shown.Entries[0].KID != p384KID || !strings.Contains(shown.Entries[0].Skipped, "P-384") || shown.Entries[1].Skipped != "" {
		t.Errorf("card trustlist show = %s; want 2 entries, the first skipped for P-384, skipped_keys 1", stdout)
	}

	// Signed by another root: refused whole, nothing verified.
	forged := filepath.Join(dir, "forged.cose")
	if stderr, err := sign(otherRootKey, forged); err != nil {
		t.Fatalf("card trustlist sign = %v; stderr %s", err, stderr)
	}
	stdout, _, err = cardRun(t, "", "verify", "--root", rootPub, "--trust", forged, "--at", "2026-01-02T00:00:00Z", payload)
	if err == nil || strings.Contains(stdout, "valid") {
		t.Errorf("card verify with a trust list of another root = %v, %q; want an error", err, stdout)
	}
}
