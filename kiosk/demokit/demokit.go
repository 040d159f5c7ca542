// Package demokit makes what a kiosk needs to be tried without an issuing
// authority: a root key and an issuer key kept across runs, the lists the
// root signs (trust list, revocations, roster, notices) and sample cards —
// one valid, one expired, one revoked, one forged and one reference card.
// "kiosk demo" runs on it, and the tests of the daemon use it as their
// fixture. The people on the cards are invented.
//
// It plays the issuing side of kiosk/card, with file names as kiosk/trust
// defines them: domain-side, it imports nothing else of this module. A
// real root key never sits next to a kiosk; the kit keeps one in its
// directory because the demo plays every part.
package demokit

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// Issuer is the demo's issuing authority: the iss of its cards.
const Issuer = "SDC-DEMO"

// Office is the office code of the demo's cards, the only one the trust
// list lets its issuer issue for.
const Office = "DEMO"

// SampleNames are the names of the sample cards, in Kit.Samples and as
// DIR/NAME.txt.
var SampleNames = []string{"valid", "expired", "revoked", "forged", "reference"}

// ReferencePrefix is the URL prefix of the demo's reference cards, under a
// top-level domain reserved for examples.
const ReferencePrefix = "https://docket.example/c/"

// Files in the kit's directory besides the lists and samples.
const (
	RootKeyFile    = "root-key.pem"    // the root's private key, made once
	RootFile       = "root.pem"        // the root's public key: what a kiosk pins
	IssuerKeyFile  = "issuer-key.pem"  // the issuer's private key, made once
	IssuerCertFile = "issuer-cert.pem" // the issuer's self-signed certificate
)

// Kit is a prepared kit: the files a kiosk reads, and the sample payloads.
type Kit struct {
	Dir         string
	Root        string            // PEM file: the demo root public key
	Trust       string            // signed trust list: the demo issuer, for office DEMO
	Revocations string            // signed revocation list naming the revoked sample
	Roster      string            // signed roster resolving the reference sample
	Samples     map[string]string // sample name → payload, also in Dir/NAME.txt
}

// Prepare creates or refreshes the kit in dir: the root and issuer keys
// are made once and kept; the lists are signed and the samples issued anew
// against now. The lists' seq is now in seconds, so that a restart never
// offers a kiosk a lower seq than it accepted before.
func Prepare(dir string, now time.Time) (*Kit, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create demo directory: %w", err)
	}
	signer, cert, err := IssuerKey(dir)
	if err != nil {
		return nil, err
	}
	root, err := RootKey(dir)
	if err != nil {
		return nil, err
	}
	kit := &Kit{
		Dir:         dir,
		Root:        filepath.Join(dir, RootFile),
		Trust:       filepath.Join(dir, trust.KindTrustList.FileName()),
		Revocations: filepath.Join(dir, trust.KindRevocations.FileName()),
		Roster:      filepath.Join(dir, trust.KindRoster.FileName()),
		Samples:     map[string]string{},
	}
	rootPEM, err := card.MarshalPublicKeyPEM(root.Public())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Root, rootPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write demo root public key: %w", err)
	}
	seq := uint64(max(now.Unix(), 0))
	trustList := &card.TrustList{Seq: seq, IssuedAt: now, Entries: []card.TrustEntry{{
		Issuer: Issuer, Certificate: cert,
		NotBefore: now.AddDate(-5, 0, 0), NotAfter: now.AddDate(5, 0, 0), Offices: []string{Office},
	}}}
	trustData, err := trustList.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Trust, trustData, 0o644); err != nil {
		return nil, fmt.Errorf("write trust list: %w", err)
	}
	issuer := &card.Issuer{Name: Issuer, Signer: signer, KID: card.KIDOfCertificate(cert)}
	// A forger holds a key of their own but copies the real issuer's kid.
	forgerKey, _, err := card.GenerateKey("ES256", "forger")
	if err != nil {
		return nil, err
	}
	forger := &card.Issuer{Name: Issuer, Signer: forgerKey, KID: issuer.KID}

	person := func(serial, given, family string) card.Card {
		return card.Card{
			Serial: serial, ANumber: "201555" + serial[len(serial)-3:],
			GivenName: given, FamilyName: family, DateOfBirth: "1991-04-12", Office: Office,
			IssuedAt: now.Add(-24 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
		}
	}
	valid := person("d0c0000000000001", "Amina", "Haddad")
	expired := person("d0c0000000000002", "Tomás", "Quispe")
	expired.IssuedAt, expired.ExpiresAt = now.AddDate(-2, 0, 0), now.AddDate(0, -1, 0)
	revoked := person("d0c0000000000003", "Lan", "Nguyen")
	forged := person("d0c0000000000004", "Yusuf", "Demir")

	rev := card.NewRevocations(seq)
	if err := rev.Add(Issuer, revoked.Serial); err != nil {
		return nil, err
	}
	rev.SetIssuedAt(now)
	revData, err := rev.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Revocations, revData, 0o644); err != nil {
		return nil, fmt.Errorf("write revocation list: %w", err)
	}

	// A notice for the valid sample's holder, sealed so that only their
	// card opens it; an upstream serving the kit's directory serves it.
	notices, err := card.NewNotices(seq, now)
	if err != nil {
		return nil, err
	}
	holder := valid
	holder.Issuer = Issuer
	if err := notices.Add(holder, card.Notice{
		Text:        map[string]string{"en": "Please go to window 3.", "es": "Por favor, vaya a la ventanilla 3."},
		Appointment: now.AddDate(0, 0, 28).Truncate(time.Hour),
	}); err != nil {
		return nil, err
	}
	noticesData, err := notices.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, trust.KindNotices.FileName()), noticesData, 0o644); err != nil {
		return nil, fmt.Errorf("write notices: %w", err)
	}

	// A reference card: its QR holds only a URL; the roster resolves it.
	referenced := person("d0c0000000000005", "Mariam", "Okonkwo-Adeyemi")
	referenced.Issuer = Issuer
	ref, err := card.NewReference()
	if err != nil {
		return nil, err
	}
	roster, err := card.NewRoster(seq, now)
	if err != nil {
		return nil, err
	}
	if err := roster.Add(ref, referenced); err != nil {
		return nil, err
	}
	rosterData, err := roster.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Roster, rosterData, 0o644); err != nil {
		return nil, fmt.Errorf("write roster: %w", err)
	}
	if err := kit.writeSample("reference", ReferencePrefix+ref); err != nil {
		return nil, err
	}

	for _, s := range []struct {
		name   string
		issuer *card.Issuer
		card   card.Card
	}{
		{"valid", issuer, valid},
		{"expired", issuer, expired},
		{"revoked", issuer, revoked},
		{"forged", forger, forged},
	} {
		payload, err := s.issuer.Issue(s.card)
		if err != nil {
			return nil, fmt.Errorf("issue %s sample: %w", s.name, err)
		}
		if err := kit.writeSample(s.name, payload); err != nil {
			return nil, err
		}
	}
	return kit, nil
}

// Payload is the payload of the sample named text, or text itself: what
// the demo scans for a line typed in.
func (kit *Kit) Payload(text string) string {
	if p, ok := kit.Samples[text]; ok {
		return p
	}
	return text
}

// writeSample keeps a sample payload in the kit and in Dir/NAME.txt.
func (kit *Kit) writeSample(name, payload string) error {
	kit.Samples[name] = payload
	if err := os.WriteFile(filepath.Join(kit.Dir, name+".txt"), []byte(payload+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s sample: %w", name, err)
	}
	return nil
}

// IssuerKey loads the demo issuer's key and certificate from dir, making
// them on first start.
func IssuerKey(dir string) (crypto.Signer, *x509.Certificate, error) {
	keyFile, certFile := filepath.Join(dir, IssuerKeyFile), filepath.Join(dir, IssuerCertFile)
	keyPEM, kerr := os.ReadFile(keyFile)
	certPEM, cerr := os.ReadFile(certFile)
	if errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist) {
		signer, cert, err := card.GenerateKey("ES256", "Secure Docket Card demo issuer")
		if err != nil {
			return nil, nil, err
		}
		keyPEM, err := card.MarshalPrivateKeyPEM(signer)
		if err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return nil, nil, fmt.Errorf("write demo issuer key: %w", err)
		}
		if err := os.WriteFile(certFile, card.MarshalCertificatePEM(cert), 0o644); err != nil {
			return nil, nil, fmt.Errorf("write demo issuer certificate: %w", err)
		}
		return signer, cert, nil
	}
	if err := errors.Join(kerr, cerr); err != nil {
		return nil, nil, fmt.Errorf("read demo issuer: %w", err)
	}
	signer, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return signer, cert, nil
}

// RootKey loads the demo root key from dir, making it on first start.
func RootKey(dir string) (crypto.Signer, error) {
	keyFile := filepath.Join(dir, RootKeyFile)
	keyPEM, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		signer, _, err := card.GenerateKey(card.AlgEdDSA, "Secure Docket Card demo root")
		if err != nil {
			return nil, err
		}
		keyPEM, err := card.MarshalPrivateKeyPEM(signer)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("write demo root key: %w", err)
		}
		return signer, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read demo root key: %w", err)
	}
	signer, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return signer, nil
}

// StateDir is where a tool of this module other than the installed
// daemon (the demo, the reference upstream) keeps its state when it is
// given no directory: $XDG_STATE_HOME/name, else ~/.local/state/name, as
// what they keep is state (keys, records), not configuration or cache. A
// relative XDG_STATE_HOME or HOME is ignored, as the XDG Base Directory
// specification says. The variables are read with getenv: os.Getenv, or a
// test's.
func StateDir(getenv func(string) string, name string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, name), nil
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", name), nil
	}
	return "", errors.New("neither XDG_STATE_HOME nor HOME is an absolute path")
}

// DefaultDir is where the demo keeps its state across runs: StateDir's
// checkin-kiosk-demo, else one in the temporary directory, so that the
// demo runs even for a user without a home.
func DefaultDir(getenv func(string) string) string {
	if d, err := StateDir(getenv, "checkin-kiosk-demo"); err == nil {
		return d
	}
	return filepath.Join(os.TempDir(), "checkin-kiosk-demo")
}
