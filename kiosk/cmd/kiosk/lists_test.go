package main

import (
	"context"
	"crypto"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// memState is a stateStore in memory.
type memState struct {
	m   map[string]string
	err error // returned by every call when set
}

func (s *memState) GetState(_ context.Context, key string) (string, bool, error) {
	if s.err != nil {
		return "", false, s.err
	}
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *memState) PutState(_ context.Context, key, value string) error {
	if s.err != nil {
		return s.err
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[key] = value
	return nil
}

// listFiles writes a root public key, a trust list of seq trustSeq and a
// revocation list of seq revSeq to dir and returns the Config naming them.
func listFiles(t *testing.T, dir string, root crypto.Signer, trustSeq, revSeq uint64) Config {
	t.Helper()
	_, cert, err := card.GenerateKey(card.AlgEdDSA, "issuer")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tl, err := (&card.TrustList{Seq: trustSeq, IssuedAt: now, Entries: []card.TrustEntry{{
		Issuer: "SDC-TEST", Certificate: cert, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0), Offices: []string{"*"},
	}}}).Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	r := card.NewRevocations(revSeq)
	r.SetIssuedAt(now)
	rl, err := r.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := card.MarshalPublicKeyPEM(root.Public())
	if err != nil {
		t.Fatal(err)
	}
	c := Config{
		Root:        filepath.Join(dir, "root.pem"),
		Trust:       filepath.Join(dir, "trustlist.cose"),
		Revocations: filepath.Join(dir, "revocations.cose"),
		MaxListAge:  DefaultMaxListAge,
	}
	for file, data := range map[string][]byte{c.Root: pub, c.Trust: tl, c.Revocations: rl} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestLoadVerifierSeqs(t *testing.T) {
	root, _, err := card.GenerateKey(card.AlgEdDSA, "root")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name               string
		held               map[string]string // nil: nothing held
		trustSeq, revSeq   uint64
		wantErr            string // "" for success
		wantTrust, wantRev string // held afterwards
	}{
		{"first start", nil, 3, 5, "", "3", "5"},
		{"same lists again", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 3, 5, "", "3", "5"},
		{"newer lists", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 4, 9, "", "4", "9"},
		{"older revocation list", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 4, 4, "revocation list", "3", "5"},
		{"older trust list", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 2, 6, "trust list", "3", "5"},
		{"seq 0 after seq 1", map[string]string{stateTrustListSeq: "1"}, 0, 1, "trust list", "1", ""},
		{"held seq unreadable", map[string]string{stateTrustListSeq: "three"}, 3, 5, "state", "three", ""},
	} {
		c := listFiles(t, t.TempDir(), root, tt.trustSeq, tt.revSeq)
		st := &memState{m: map[string]string{}}
		for k, v := range tt.held {
			st.m[k] = v
		}
		l, err := loadVerifier(context.Background(), c, st, log)
		var v *card.Verifier
		if l != nil {
			v = l.verifier
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("loadVerifier(%s) = %v; want nil", tt.name, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("loadVerifier(%s) = nil; want an error about the %s", tt.name, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("loadVerifier(%s) = %v; want an error about the %s", tt.name, err, tt.wantErr)
		case tt.wantErr == "" && (v.Trust.Len() != 1 || v.Revocations.Seq() != tt.revSeq || v.MaxListAge != DefaultMaxListAge):
			t.Errorf("loadVerifier(%s) = %d keys, revocations seq %d, max age %s; want 1, %d, %s",
				tt.name, v.Trust.Len(), v.Revocations.Seq(), v.MaxListAge, tt.revSeq, DefaultMaxListAge)
		}
		if got := st.m[stateTrustListSeq]; got != tt.wantTrust {
			t.Errorf("loadVerifier(%s): trust list seq held = %q; want %q", tt.name, got, tt.wantTrust)
		}
		if got := st.m[stateRevocationsSeq]; got != tt.wantRev {
			t.Errorf("loadVerifier(%s): revocation list seq held = %q; want %q", tt.name, got, tt.wantRev)
		}
	}
}

func TestLoadVerifierModes(t *testing.T) {
	root, _, err := card.GenerateKey(card.AlgEdDSA, "root")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := card.GenerateKey(card.AlgES256, "other root")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := listFiles(t, dir, root, 1, 1)
	otherDir := t.TempDir()
	oc := listFiles(t, otherDir, other, 1, 1)
	_, cert, err := card.GenerateKey(card.AlgES256, "issuer")
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(pemFile, card.MarshalCertificatePEM(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name    string
		edit    func(c *Config)
		st      *memState
		wantErr bool
		stale   bool // ListsStale now
	}{
		{"signed lists", func(*Config) {}, &memState{}, false, false},
		{"signed trust list, no revocation list", func(c *Config) { c.Revocations = "" }, &memState{}, false, true},
		{"no revocation list, no limit", func(c *Config) { c.Revocations, c.MaxListAge = "", 0 }, &memState{}, false, false},
		{"development: PEM trust, no root", func(c *Config) { c.Root, c.Trust, c.Revocations, c.MaxListAge = "", pemFile, "", 0 }, &memState{}, false, false},
		{"PEM trust with a root", func(c *Config) { c.Trust = pemFile }, &memState{}, true, false},
		{"signed trust list without a root", func(c *Config) { c.Root, c.Revocations = "", "" }, &memState{}, true, false},
		{"revocations without a root", func(c *Config) { c.Root, c.Trust = "", pemFile }, &memState{}, true, false},
		{"another root's trust list", func(c *Config) { c.Trust = oc.Trust }, &memState{}, true, false},
		{"another root's revocation list", func(c *Config) { c.Revocations = oc.Revocations }, &memState{}, true, false},
		{"root is a certificate", func(c *Config) { c.Root = pemFile }, &memState{}, true, false},
		{"revocation list as trust list", func(c *Config) { c.Trust = c.Revocations }, &memState{}, true, false},
		{"trust list as revocation list", func(c *Config) { c.Revocations = c.Trust }, &memState{}, true, false},
		{"no trust", func(c *Config) { c.Trust = "" }, &memState{}, true, false},
		{"state unreadable", func(*Config) {}, &memState{err: errors.New("disk on fire")}, true, false},
	} {
		cc := c
		tt.edit(&cc)
		l, err := loadVerifier(context.Background(), cc, tt.st, log)
		if (err != nil) != tt.wantErr {
			t.Errorf("loadVerifier(%s) = %v; want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && l.verifier.ListsStale(time.Now()) != tt.stale {
			t.Errorf("loadVerifier(%s).ListsStale(now) = %v; want %v", tt.name, !tt.stale, tt.stale)
		}
	}
}
