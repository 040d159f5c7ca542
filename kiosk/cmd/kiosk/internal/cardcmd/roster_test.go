package cardcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// rosterRun runs "kiosk card roster args…" with buffers for its streams.
func rosterRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return cardRun(t, "", append([]string{"roster"}, args...)...)
}

// writeRootKey writes a new root key pair to dir: the private key and the
// public key a kiosk pins, both PEM.
func writeRootKey(t *testing.T, dir, name string) (keyFile, pubFile string) {
	t.Helper()
	key, _, err := card.GenerateKey(card.AlgEdDSA, name)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := card.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := card.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, pubFile
}

func TestCardRosterCommand(t *testing.T) {
	dir := t.TempDir()
	rootKey, rootPub := writeRootKey(t, dir, "root")
	otherKey, otherPub := writeRootKey(t, dir, "other")
	roster := filepath.Join(dir, "roster.cbor")
	const prefix = "https://docket.example.gov/c/"

	add := func(extra ...string) []string {
		return append([]string{"add", "--root-key", rootKey, "--roster", roster, "--iss", "SDC-TEST",
			"--dob", "1975-06-15", "--office", "XFO", "--issued-at", "2026-01-01T00:00:00Z", "--valid-for", "720h",
			"--url-prefix", prefix}, extra...)
	}
	stdout, stderr, err := rosterRun(t, add("--a-number", "987654321", "--family", "Zyxwv", "--given", "Quentin", "--serial", "0a0b0c0d")...)
	if err != nil {
		t.Fatalf("roster add = %v; stderr %s", err, stderr)
	}
	url := strings.TrimSuffix(stdout, "\n")
	ref, ok := strings.CutPrefix(url, prefix)
	if _, err := card.ParseReference(ref); !ok || err != nil || len(ref) != 26 {
		t.Fatalf("roster add printed %q; want %s and a 26-character reference", stdout, prefix)
	}
	stdout, stderr, err = rosterRun(t, add("--a-number", "123456789")...)
	if err != nil {
		t.Fatalf("roster add (second, minimal) = %v; stderr %s", err, stderr)
	}
	ref2 := strings.TrimPrefix(strings.TrimSuffix(stdout, "\n"), prefix)
	if ref2 == ref {
		t.Fatalf("roster add printed the same reference twice")
	}
	if _, _, err := rosterRun(t, "add", "--root-key", otherKey, "--roster", roster, "--iss", "X", "--a-number", "1",
		"--dob", "1975-06-15", "--office", "XFO"); err == nil {
		t.Errorf("roster add with another root key = nil; want an error")
	}

	data, err := os.ReadFile(roster)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"987654321", "123456789", "Zyxwv", "Quentin", "1975-06-15", ref, ref2} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("roster file contains %q", s)
		}
	}
	pub, err := os.ReadFile(rootPub)
	if err != nil {
		t.Fatal(err)
	}
	rootPubKey, err := card.ParsePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := card.OpenRoster(data, rootPubKey)
	if err != nil || opened.Seq() != 2 || opened.Len() != 2 {
		t.Fatalf("OpenRoster(roster file) = %v, %v; want seq 2 with 2 entries", opened, err)
	}
	v := &card.Verifier{Roster: opened, ReferencePrefixes: []string{prefix}}
	if r := v.Verify(url, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)); r.Status != card.Valid || r.Card.FamilyName != "Zyxwv" {
		t.Errorf("Verify(added card) = %s (%v); want valid", r.Status, r.Err)
	}

	for _, tt := range []struct {
		name   string
		args   []string
		want   rosterLookupOutput
		status int // exit status; 0 success
	}{
		{"url", []string{url}, rosterLookupOutput{true, "SDC-TEST", "0a0b0c0d", "2026-01-31T00:00:00Z"}, 0},
		{"lower case", []string{strings.ToLower(ref)}, rosterLookupOutput{true, "SDC-TEST", "0a0b0c0d", "2026-01-31T00:00:00Z"}, 0},
		{"absent", []string{strings.Repeat("Z", 26)}, rosterLookupOutput{}, 1},
	} {
		stdout, stderr, err := rosterRun(t, append([]string{"lookup", "--root", rootPub, "--roster", roster}, tt.args...)...)
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("roster lookup %s = %v; stderr %s", tt.name, err, stderr)
			continue
		case tt.status != 0 && err != exitCode(tt.status):
			t.Errorf("roster lookup %s = %v; want exit status %d", tt.name, err, tt.status)
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(stdout), &raw); err != nil || len(raw) != 4 {
			t.Errorf("roster lookup %s printed %q; want a JSON object of 4 keys", tt.name, stdout)
			continue
		}
		var got rosterLookupOutput
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got != tt.want {
			t.Errorf("roster lookup %s = %+v; want %+v", tt.name, got, tt.want)
		}
		for _, s := range []string{"987654321", "Zyxwv", "Quentin", "1975-06-15"} {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("roster lookup %s printed %q", tt.name, s)
			}
		}
	}

	for _, tt := range []struct {
		name string
		args []string
	}{
		{"another root", []string{"lookup", "--root", otherPub, "--roster", roster, ref}},
		{"no roster file", []string{"lookup", "--root", rootPub, "--roster", filepath.Join(dir, "missing"), ref}},
		{"bad reference", []string{"lookup", "--root", rootPub, "--roster", roster, prefix + "not-a-reference"}},
		{"no reference", []string{"lookup", "--root", rootPub, "--roster", roster}},
		{"no root", []string{"lookup", "--roster", roster, ref}},
		{"add without a-number", []string{"add", "--root-key", rootKey, "--roster", roster, "--iss", "X", "--dob", "1975-06-15", "--office", "XFO"}},
		{"add bad date", add("--a-number", "1", "--issued-at", "yesterday")},
		{"unknown subcommand", []string{"remove"}},
	} {
		if _, _, err := rosterRun(t, tt.args...); err == nil {
			t.Errorf("roster %s = nil; want an error", tt.name)
		}
	}
	if after, err := os.ReadFile(roster); err != nil || !bytes.Equal(after, data) {
		t.Errorf("refused commands changed the roster file")
	}
}
