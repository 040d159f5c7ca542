package cardcmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// cardRun runs "kiosk card args…" with buffers for its streams, through
// internal/cli's dispatcher as the binary does, so the paths in errors and
// the exit codes are the binary's. err is nil when it exits 0, else its
// exit status.
func cardRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(string) string { return "" },
	}
	kiosk := &cli.Command{Name: "kiosk", Subcommands: []*cli.Command{Command()}}
	if code := cli.Run(context.Background(), env, kiosk, append([]string{"card"}, args...)); code != 0 {
		err = exitCode(code)
	}
	return out.String(), errOut.String(), err
}

// exitCode is an exit status other than 0, as cardRun returns it: 2 for a
// usage error, 1 for any other.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// trustListOutput is what "kiosk card trustlist show" prints (the JSON of
// a card.TrustList).
type trustListOutput struct {
	Seq         uint64             `json:"seq"`
	IssuedAt    string             `json:"issued_at"`
	Entries     []trustEntryOutput `json:"entries"`
	SkippedKeys int                `json:"skipped_keys"`
}

type trustEntryOutput struct {
	Iss       string   `json:"iss"`
	KID       string   `json:"kid"`
	Key       string   `json:"key"`
	Subject   string   `json:"subject,omitempty"`
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Offices   []string `json:"offices"`
	Skipped   string   `json:"skipped,omitempty"`
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
			switch {
			case tt.valid && err != nil:
				t.Errorf("card verify (%s) = %v; want nil (stderr %s)", tt.name, err, stderr)
			case !tt.valid && err != exitCode(1):
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
	rootKey, rootPub := filepath.Join(dir, "root-key.pem"), filepath.Join(dir, "root.pem")
	if _, stderr, err := cardRun(t, "", "keygen", "--alg", "EdDSA", "--key", rootKey, "--pub", rootPub); err != nil {
		t.Fatalf("card keygen --pub = %v; stderr %s", err, stderr)
	}
	for seq := 1; seq <= 2; seq++ {
		if _, stderr, err := cardRun(t, "", "revoke", "--root-key", rootKey, "--list", revList, "--iss", "SDC-TEST", "--serial", "0a0b0c0d", "--issued-at", "2026-01-01T12:00:00Z"); err != nil {
			t.Fatalf("card revoke = %v; stderr %s", err, stderr)
		}
		stdout, stderr, err := cardRun(t, "", "revocations", "show", "--root", rootPub, revList)
		if err != nil {
			t.Fatalf("card revocations show = %v; stderr %s", err, stderr)
		}
		var list struct {
			Seq      int      `json:"seq"`
			IssuedAt string   `json:"issued_at"`
			Entries  []string `json:"entries"`
		}
		if err := json.Unmarshal([]byte(stdout), &list); err != nil || list.Seq != seq || len(list.Entries) != 1 || list.IssuedAt != "2026-01-01T12:00:00Z" {
			t.Errorf("after revoke #%d the list is %s (%v); want seq %d with one entry, issued 2026-01-01T12:00:00Z", seq, stdout, err, seq)
		}
	}
	// With --root, --trust is PEM only without a list: PEM with --root is refused.
	if _, _, err := cardRun(t, "", "verify", "--root", rootPub, "--trust", cert, "--revocations", revList, payload); err == nil {
		t.Errorf("card verify --root with a PEM --trust = nil; want an error")
	}
	trustList := filepath.Join(dir, "trustlist.cose")
	entry := "iss=SDC-TEST,cert=" + cert + ",offices=XFO,not-before=2025-01-01T00:00:00Z,not-after=2026-12-31T00:00:00Z"
	if _, stderr, err := cardRun(t, "", "trustlist", "sign", "--root-key", rootKey, "--seq", "1", "--out", trustList, "--entry", entry); err != nil {
		t.Fatalf("card trustlist sign = %v; stderr %s", err, stderr)
	}
	for _, tt := range []struct {
		name   string
		args   []string
		result string
	}{
		{"revoked", []string{"--revocations", revList}, "revoked"},
		{"revoked, stale list", []string{"--revocations", revList, "--max-list-age", "1h"}, "revoked"},
		{"no list, with a limit", []string{"--max-list-age", "1h"}, "stale_lists"},
		{"no list", nil, "valid"},
	} {
		args := append([]string{"verify", "--root", rootPub, "--trust", trustList, "--at", "2026-01-02T00:00:00Z"}, tt.args...)
		stdout, stderr, err := cardRun(t, "", append(args, payload)...)
		m := cardVerifyJSON(t, stdout)
		if m["result"] != tt.result || (err == nil) != (tt.result == "valid") {
			t.Errorf("card verify (%s) = %v, %v; want %s (stderr %s)", tt.name, m["result"], err, tt.result, stderr)
		}
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
	cert, err := trust.ReadCertificate(certFile)
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
		{"revoke", "--list", "l", "--iss", "X", "--serial", "01"},
		{"keygen", "--key", "k"},
		{"keygen", "--key", "k", "--cert", "c"},
		{"verify", "--trust", "t", "--revocations", "r", "x"},
		{"trustlist"},
		{"trustlist", "list"},
		{"trustlist", "sign", "--root-key", "k", "--out", "o", "--entry", "iss=X"},
		{"trustlist", "sign", "--root-key", "k", "--seq", "0", "--out", "o"},
		{"trustlist", "show", "--root", "r"},
		{"revocations"},
		{"revocations", "show", "l"},
	} {
		if _, _, err := cardRun(t, "", args...); err != exitCode(2) {
			t.Errorf("card %q = %v; want exit status 2, a usage error", args, err)
		}
	}
	if stdout, _, err := cardRun(t, "", "help"); err != nil || !strings.Contains(stdout, "verify") {
		t.Errorf("card help = %q, %v; want the subcommands, nil", stdout, err)
	}
}

func TestCardTrustList(t *testing.T) {
	dir := t.TempDir()
	rootKey, rootPub := filepath.Join(dir, "root-key.pem"), filepath.Join(dir, "root.pem")
	key, cert := filepath.Join(dir, "nyc.key"), filepath.Join(dir, "nyc.pem")
	edKey, edCert := filepath.Join(dir, "sfo.key"), filepath.Join(dir, "sfo.pem")
	sfoPub := filepath.Join(dir, "sfo-pub.pem")
	for _, args := range [][]string{
		{"--alg", "EdDSA", "--key", rootKey, "--pub", rootPub},
		{"--subject", "NYC", "--key", key, "--cert", cert},
		{"--alg", "EdDSA", "--subject", "SFO", "--key", edKey, "--cert", edCert, "--pub", sfoPub},
	} {
		if _, stderr, err := cardRun(t, "", append([]string{"keygen"}, args...)...); err != nil {
			t.Fatalf("card keygen %q = %v; stderr %s", args, err, stderr)
		}
	}
	list := filepath.Join(dir, "trustlist.cose")
	const window = ",not-before=2026-01-01T00:00:00Z,not-after=2026-12-31T23:59:59Z"
	sign := func(seq string, entries ...string) error {
		args := []string{"trustlist", "sign", "--root-key", rootKey, "--seq", seq, "--out", list, "--issued-at", "2026-02-01T00:00:00Z"}
		for _, e := range entries {
			args = append(args, "--entry", e)
		}
		_, _, err := cardRun(t, "", args...)
		return err
	}
	if err := sign("2", "iss=SDC-NYC,cert="+cert+",offices=NYC+BOS"+window, "iss=SDC-SFO,key="+sfoPub+",offices=*"+window); err != nil {
		t.Fatalf("card trustlist sign = %v", err)
	}
	stdout, stderr, err := cardRun(t, "", "trustlist", "show", "--root", rootPub, list)
	if err != nil {
		t.Fatalf("card trustlist show = %v; stderr %s", err, stderr)
	}
	var shown trustListOutput
	if err := json.Unmarshal([]byte(stdout), &shown); err != nil {
		t.Fatalf("card trustlist show printed %s: %v", stdout, err)
	}
	nycCert, err := trust.ReadCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	sfoKey, err := trust.ReadPublicKey(sfoPub)
	if err != nil {
		t.Fatal(err)
	}
	sfoKID, err := card.KIDOfKey(sfoKey)
	if err != nil {
		t.Fatal(err)
	}
	want := trustListOutput{Seq: 2, IssuedAt: "2026-02-01T00:00:00Z", Entries: []trustEntryOutput{
		{Iss: "SDC-NYC", KID: hex.EncodeToString(card.KIDOfCertificate(nycCert)), Key: "cert", Subject: "NYC",
			NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2026-12-31T23:59:59Z", Offices: []string{"NYC", "BOS"}},
		{Iss: "SDC-SFO", KID: hex.EncodeToString(sfoKID), Key: "spki",
			NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2026-12-31T23:59:59Z", Offices: []string{"*"}},
	}}
	if !reflect.DeepEqual(shown, want) {
		t.Errorf("card trustlist show = %+v; want %+v", shown, want)
	}
	if _, _, err := cardRun(t, "", "trustlist", "show", "--root", sfoPub, list); err == nil {
		t.Errorf("card trustlist show with another root = nil; want an error")
	}

	// Kiosks refuse a lower seq, so signing one is refused; so is a bad entry.
	for _, tt := range []struct {
		name    string
		seq     string
		entries []string
	}{
		{"same seq", "2", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC" + window}},
		{"lower seq", "1", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC" + window}},
		{"cert and key", "3", []string{"iss=SDC-NYC,cert=" + cert + ",key=" + sfoPub + ",offices=NYC" + window}},
		{"no key", "3", []string{"iss=SDC-NYC,offices=NYC" + window}},
		{"no window", "3", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC"}},
		{"window reversed", "3", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC,not-before=2027-01-01T00:00:00Z,not-after=2026-01-01T00:00:00Z"}},
		{"unknown name", "3", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC,colour=red" + window}},
		{"name twice", "3", []string{"iss=SDC-NYC,iss=SDC-BOS,cert=" + cert + ",offices=NYC" + window}},
		{"bad time", "3", []string{"iss=SDC-NYC,cert=" + cert + ",offices=NYC,not-before=yesterday,not-after=2026-12-31T00:00:00Z"}},
		{"certificate as key", "3", []string{"iss=SDC-NYC,key=" + cert + ",offices=NYC" + window}},
	} {
		if err := sign(tt.seq, tt.entries...); err == nil {
			t.Errorf("card trustlist sign (%s) = nil; want an error", tt.name)
		}
	}

	// The kiosk's view: each key only for its issuer, offices and window.
	issue := func(keyFile, certFile, iss, office, iat string) string {
		stdout, stderr, err := cardRun(t, "", "issue", "--key", keyFile, "--cert", certFile, "--iss", iss, "--a-number", "1",
			"--dob", "1990-01-01", "--office", office, "--issued-at", iat)
		if err != nil {
			t.Fatalf("card issue = %v; stderr %s", err, stderr)
		}
		return strings.TrimSpace(stdout)
	}
	// An entry with a bare key trusts cards carrying the key's kid.
	sfoPayload := func(office string) string {
		keyPEM, err := os.ReadFile(edKey)
		if err != nil {
			t.Fatal(err)
		}
		k, err := card.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		iat := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		p, err := (&card.Issuer{Name: "SDC-SFO", Signer: k}).Issue(card.Card{
			IssuedAt: iat, ExpiresAt: iat.AddDate(1, 0, 0), ANumber: "1", DateOfBirth: "1990-01-01", Office: office,
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, payload, result string
	}{
		{"listed office", issue(key, cert, "SDC-NYC", "BOS", "2026-03-01T00:00:00Z"), "valid"},
		{"office not listed", issue(key, cert, "SDC-NYC", "SFO", "2026-03-01T00:00:00Z"), "unknown_issuer"},
		{"another issuer's name", issue(key, cert, "SDC-SFO", "NYC", "2026-03-01T00:00:00Z"), "unknown_issuer"},
		{"issued before the window", issue(key, cert, "SDC-NYC", "NYC", "2025-12-31T23:59:59Z"), "unknown_issuer"},
		{"key not listed", issue(edKey, edCert, "SDC-SFO", "SFO", "2026-03-01T00:00:00Z"), "unknown_issuer"},
		{"bare key, any office", sfoPayload("LAX"), "valid"},
	} {
		stdout, stderr, err := cardRun(t, "", "verify", "--root", rootPub, "--trust", list, "--at", "2026-03-02T00:00:00Z", tt.payload)
		m := cardVerifyJSON(t, stdout)
		if m["result"] != tt.result || (err == nil) != (tt.result == "valid") {
			t.Errorf("card verify (%s) = %v, %v; want %s (stderr %s)", tt.name, m["result"], err, tt.result, stderr)
		}
	}
}
