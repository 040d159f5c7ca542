package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// cardRun runs "kiosk card args…" with buffers for its streams.
func cardRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(string) string { return "" },
	}
	err = cardCommand(context.Background(), env, args)
	return out.String(), errOut.String(), err
}

// cardVerifyJSON decodes the one JSON object verify prints.
func cardVerifyJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("verify printed %q: %v", stdout, err)
	}
	if dec.More() {
		t.Fatalf("verify printed more than one object: %q", stdout)
	}
	for _, k := range []string{"result", "stage", "reason", "signature_ok", "kid", "iss", "serial", "expires_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("verify output %s has no %q", stdout, k)
		}
	}
	return m
}

func TestCardCommand(t *testing.T) {
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "issuer.key"), filepath.Join(dir, "issuer.pem")
	if _, stderr, err := cardRun(t, "", "keygen", "--alg", "ES256", "--subject", "Test Issuer", "--key", key, "--cert", cert); err != nil {
		t.Fatalf("card keygen = %v; stderr %s", err, stderr)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, _, err := cardRun(t, "", "keygen", "--subject", "again", "--key", key, "--cert", cert); err == nil {
		t.Errorf("card keygen over an existing key = nil; want an error")
	}
	otherKey, otherCert := filepath.Join(dir, "other.key"), filepath.Join(dir, "other.pem")
	if _, stderr, err := cardRun(t, "", "keygen", "--alg", "EdDSA", "--subject", "Other", "--key", otherKey, "--cert", otherCert); err != nil {
		t.Fatalf("card keygen EdDSA = %v; stderr %s", err, stderr)
	}

	issueArgs := []string{"issue", "--key", key, "--cert", cert, "--iss", "SDC-TEST", "--a-number", "987654321",
		"--family", "Zyxwv", "--given", "Quentin", "--dob", "1975-06-15", "--office", "XFO",
		"--serial", "0a0b0c0d", "--issued-at", "2026-01-01T00:00:00Z", "--valid-for", "720h"}
	stdout, stderr, err := cardRun(t, "", issueArgs...)
	if err != nil {
		t.Fatalf("card issue = %v; stderr %s", err, stderr)
	}
	payload := strings.TrimSuffix(stdout, "\n")
	if !strings.HasPrefix(payload, "SDC1:") || strings.Contains(payload, "\n") {
		t.Fatalf("card issue printed %q; want one SDC1: line", stdout)
	}
	if _, _, err := cardRun(t, "", "issue", "--key", otherKey, "--cert", cert, "--iss", "X", "--a-number", "1", "--dob", "1975-06-15", "--office", "XFO"); err == nil {
		t.Errorf("card issue with a key not of the certificate = nil; want an error")
	}

	// A forgery: signed by another key, carrying the trusted certificate's kid.
	forged := cardForge(t, otherKey, cert)

	revList := filepath.Join(dir, "revoked.json")
	for _, tt := range []struct {
		name   string
		args   []string
		stdin  string
		result string
		reason string
		valid  bool
	}{
		{"valid", []string{"--trust", cert, "--at", "2026-01-02T00:00:00Z", payload}, "", "valid", "card.valid", true},
		{"valid from stdin", []string{"--trust", cert, "--at", "2026-01-02T00:00:00Z", "-"}, payload + "\r\n", "valid", "card.valid", true},
		{"valid from stdin, no argument", []string{"--trust", cert, "--at", "2026-01-02T00:00:00Z"}, payload + "\n", "valid", "card.valid", true},
		{"expired", []string{"--trust", cert, "--at", "2026-02-01T00:00:00Z", payload}, "", "expired", "card.expired", false},
		{"untrusted issuer", []string{"--trust", otherCert, "--at", "2026-01-02T00:00:00Z", payload}, "", "unknown_issuer", "card.unknown_issuer", false},
		{"forged", []string{"--trust", cert, "--at", "2026-01-02T00:00:00Z", forged}, "", "bad_signature", "card.bad_signature", false},
		{"tampered", []string{"--trust", cert, "--at", "2026-01-02T00:00:00Z", payload[:len(payload)-3] + "000"}, "", "", "", false},
		{"garbage", []string{"--trust", cert, "hello"}, "", "malformed", "card.malformed.prefix", false},
		{"other context", []string{"--trust", cert, "--prefix", "HC1:", payload}, "", "wrong_context", "card.wrong_context", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := cardRun(t, tt.stdin, append([]string{"verify"}, tt.args...)...)
			var ee *exitError
			switch {
			case tt.valid && err != nil:
				t.Errorf("card verify (%s) = %v; want nil (stderr %s)", tt.name, err, stderr)
			case !tt.valid && (!errors.As(err, &ee) || ee.Code != 1):
				t.Errorf("card verify (%s) = %v; want exit status 1", tt.name, err)
			}
			m := cardVerifyJSON(t, stdout)
			if tt.result != "" && (m["result"] != tt.result || m["reason"] != tt.reason) {
				t.Errorf("card verify (%s) = %v, %v; want %s, %s", tt.name, m["result"], m["reason"], tt.result, tt.reason)
			}
			if tt.valid && (m["iss"] != "SDC-TEST" || m["serial"] != "0a0b0c0d" || m["expires_at"] != "2026-01-31T00:00:00Z" ||
				m["signature_ok"] != true || len(m["kid"].(string)) != 16) {
				t.Errorf("card verify (%s) = %s; want iss, serial, expires_at, signature_ok and kid", tt.name, stdout)
			}
			for _, secret := range []string{"987654321", "Zyxwv", "Quentin", "1975-06-15"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("card verify (%s) printed personal data: %s %s", tt.name, stdout, stderr)
				}
			}
		})
	}

	// Revoke it twice (a new list, then seq 2) and see it refused.
	for seq := 1; seq <= 2; seq++ {
		if _, stderr, err := cardRun(t, "", "revoke", "--list", revList, "--iss", "SDC-TEST", "--serial", "0a0b0c0d"); err != nil {
			t.Fatalf("card revoke = %v; stderr %s", err, stderr)
		}
		data, err := os.ReadFile(revList)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Seq     int      `json:"seq"`
			Entries []string `json:"entries"`
		}
		if err := json.Unmarshal(data, &list); err != nil || list.Seq != seq || len(list.Entries) != 1 {
			t.Errorf("after revoke #%d the list is %s (%v); want seq %d with one entry", seq, data, err, seq)
		}
	}
	stdout, _, err = cardRun(t, "", "verify", "--trust", cert, "--revocations", revList, "--at", "2026-01-02T00:00:00Z", payload)
	if m := cardVerifyJSON(t, stdout); m["result"] != "revoked" || err == nil {
		t.Errorf("card verify (revoked) = %v, %v; want revoked, exit status 1", m["result"], err)
	}
}

// cardForge issues a card with the key in keyFile under the kid of the
// certificate in certFile, which is not that key's.
func cardForge(t *testing.T, keyFile, certFile string) string {
	t.Helper()
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := cardReadCertificate(certFile)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := (&card.Issuer{Name: "SDC-TEST", Signer: key, KID: card.KIDOfCertificate(cert)}).Issue(card.Card{
		IssuedAt: at, ExpiresAt: at.AddDate(1, 0, 0), ANumber: "987654321", DateOfBirth: "1975-06-15", Office: "XFO",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCardCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nonsense"},
		{"keygen", "--no-such-flag"},
		{"keygen", "--subject", "x"},
		{"issue", "--key", "k"},
		{"verify"},
		{"verify", "--trust", "t", "--at", "yesterday", "x"},
		{"revoke", "--list", "l"},
	} {
		if _, _, err := cardRun(t, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("card %q = %v; want errUsage", args, err)
		}
	}
	if stdout, _, err := cardRun(t, "", "help"); err != nil || !strings.Contains(stdout, "verify") {
		t.Errorf("card help = %q, %v; want the subcommands, nil", stdout, err)
	}
}
