package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/qr"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
)

// cardCommand is "kiosk card": the issuing office's and the tester's tools.
func cardCommand(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "kiosk card", args, []command{
		{"keygen", "make an issuer key and its certificate, or a root key and its public key", cardKeygen},
		{"issue", "sign a card and print its QR payload", cardIssue},
		{"verify", "verify a payload and print the result as JSON", cardVerify},
		{"trustlist", "sign a trust list, or show one as JSON", cardTrustList},
		{"revoke", "add a card to a signed revocation list", cardRevoke},
		{"revocations", "show a signed revocation list as JSON", cardRevocations},
		{"roster", "add a reference card to a roster, or look one up", cardRosterCommand},
	})
}

// openSignedFile reads file and opens it with open, verified against the
// root public key in rootFile.
func openSignedFile[T any](rootFile, file string, open func([]byte, crypto.PublicKey) (T, error)) (T, error) {
	var zero T
	root, err := readPublicKey(rootFile)
	if err != nil {
		return zero, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return zero, err
	}
	v, err := open(data, root)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// newCardFlags returns a flag set for "kiosk card name" that reports to
// env.Stderr and returns errors rather than exiting.
func newCardFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("kiosk card "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// cardParseFlags parses args, mapping -h to success and any other error to
// errUsage (the flag package has already explained it).
func cardParseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return false, errUsage
	}
	return false, nil
}

// cardRequired reports the first of the named flags left empty.
func cardRequired(env *Env, fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			fmt.Fprintf(env.Stderr, "kiosk card %s: --%s is required\n", strings.TrimPrefix(fs.Name(), "kiosk card "), n)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

func cardKeygen(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "keygen")
	alg := fs.String("alg", card.AlgES256, "signature algorithm: ES256, PS256 or EdDSA")
	subject := fs.String("subject", "", "common name of the self-signed certificate (with --cert)")
	keyFile := fs.String("key", "", "file to write the private key to (PKCS #8 PEM, mode 0600; must not exist)")
	certFile := fs.String("cert", "", "file to write the self-signed certificate to (PEM): for an issuer key")
	pubFile := fs.String("pub", "", "file to write the public key to (PEM): for a root key, to pin with --root")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: kiosk card keygen [--alg ALG] --key FILE (--subject NAME --cert FILE | --pub FILE)

An issuer key gets a self-signed certificate, whose kid its cards carry
(--subject, --cert). The root key that signs the trust and revocation lists
gets its public key, the file a kiosk pins with --root:

  kiosk card keygen --alg EdDSA --key root-key.pem --pub root.pem`)
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "key"); err != nil {
		return err
	}
	if *certFile == "" && *pubFile == "" {
		fmt.Fprintln(env.Stderr, "kiosk card keygen: --cert or --pub is required")
		fs.Usage()
		return errUsage
	}
	if *certFile != "" {
		if err := cardRequired(env, fs, "subject"); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk card keygen: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	key, cert, err := card.GenerateKey(*alg, *subject)
	if err != nil {
		return err
	}
	keyPEM, err := card.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	// Never overwrite a key: it may be the only copy of an issuer's key.
	// And never leave half of one: it is on disk, whole, before its
	// certificate names it.
	if err := atomicfile.Create(*keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if *certFile != "" {
		if err := atomicfile.Write(*certFile, card.MarshalCertificatePEM(cert), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "kid %x\n", card.KIDOfCertificate(cert))
	}
	if *pubFile != "" {
		pubPEM, err := card.MarshalPublicKeyPEM(key.Public())
		if err != nil {
			return err
		}
		if err := atomicfile.Write(*pubFile, pubPEM, 0o644); err != nil {
			return err
		}
		kid, err := card.KIDOfKey(key.Public())
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "public key kid %x\n", kid)
	}
	return nil
}

func cardIssue(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "issue")
	keyFile := fs.String("key", "", "issuer private key (PEM)")
	certFile := fs.String("cert", "", "issuer certificate (PEM); the card carries its kid")
	var fields cardFields
	fields.register(fs)
	prefix := fs.String("prefix", card.DefaultPrefix, "context prefix")
	qrFile := fs.String("qr", "", "also write the card's QR code to this PNG file")
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, append([]string{"key", "cert"}, cardFieldsRequired...)...); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk card issue: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	c, err := fields.card(env, "issue")
	if err != nil {
		return err
	}
	key, err := cardReadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	cert, err := cardReadCertificate(*certFile)
	if err != nil {
		return err
	}
	if pub, ok := key.Public().(interface{ Equal(x crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("%s does not hold the key of %s", *keyFile, *certFile)
	}
	i := &card.Issuer{Name: c.Issuer, Signer: key, KID: card.KIDOfCertificate(cert), Prefix: *prefix}
	payload, err := i.Issue(c)
	if err != nil {
		return err
	}
	if *qrFile != "" {
		if err := qr.WritePNG(*qrFile, payload); err != nil {
			return err
		}
	}
	fmt.Fprintln(env.Stdout, payload)
	return nil
}

// cardFields are the flags of a card's fields. "kiosk card issue" and
// "kiosk card roster add" make the same card, one signed into a QR payload,
// the other sealed into a roster: one set of flags keeps them the same.
type cardFields struct {
	iss, aNumber, family, given, dob, office, serial, issuedAt string
	validFor                                                   time.Duration
}

// cardFieldsRequired are the card field flags a card cannot be made
// without.
var cardFieldsRequired = []string{"iss", "a-number", "dob", "office"}

// register adds the card field flags to fs.
func (f *cardFields) register(fs *flag.FlagSet) {
	fs.StringVar(&f.iss, "iss", "", "issuer name (CWT iss)")
	fs.StringVar(&f.aNumber, "a-number", "", "A-number, digits only")
	fs.StringVar(&f.family, "family", "", "family name (omit with --given for a minimal card)")
	fs.StringVar(&f.given, "given", "", "given name")
	fs.StringVar(&f.dob, "dob", "", "date of birth, YYYY-MM-DD")
	fs.StringVar(&f.office, "office", "", "issuing office code")
	fs.StringVar(&f.serial, "serial", "", "card serial in hex (default: 8 random bytes)")
	fs.DurationVar(&f.validFor, "valid-for", 8760*time.Hour, "how long the card is valid")
	fs.StringVar(&f.issuedAt, "issued-at", "", "issue time, RFC 3339 (default: now)")
}

// card is the card the flags describe, for "kiosk card cmd"; its serial
// is "" when --serial was not given. A bad --issued-at is a usage error.
func (f *cardFields) card(env *Env, cmd string) (card.Card, error) {
	iat, err := cardTime(env, cmd, "issued-at", f.issuedAt)
	if err != nil {
		return card.Card{}, err
	}
	return card.Card{
		Issuer:      f.iss,
		Serial:      f.serial,
		IssuedAt:    iat,
		ExpiresAt:   iat.Add(f.validFor),
		ANumber:     f.aNumber,
		FamilyName:  f.family,
		GivenName:   f.given,
		DateOfBirth: f.dob,
		Office:      f.office,
	}, nil
}

// cardVerifyOutput is what "kiosk card verify" prints: the outcome and the
// card's handles, never its personal data.
type cardVerifyOutput struct {
	Result      card.Status `json:"result"`
	Stage       card.Stage  `json:"stage"`
	Reason      string      `json:"reason"`
	SignatureOK bool        `json:"signature_ok"`
	KID         string      `json:"kid"`
	Iss         string      `json:"iss"`
	Serial      string      `json:"serial"`
	ExpiresAt   string      `json:"expires_at"`
}

// cardMaxStdin bounds what verify reads from stdin: more than any card,
// so Verify itself reports an oversized payload.
const cardMaxStdin = 64 << 10

func cardVerify(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "verify")
	trustFile := fs.String("trust", "", "signed trust list; without --root, PEM issuer certificates and public keys")
	rootFile := fs.String("root", "", "root public key (PEM) the lists are signed with")
	revFile := fs.String("revocations", "", "signed revocation list (needs --root)")
	maxAge := fs.Duration("max-list-age", 0, "how old the revocation list may be before a card is stale_lists; 0 for no limit")
	atFlag := fs.String("at", "", "time to verify at, RFC 3339 (default: now)")
	prefix := fs.String("prefix", card.DefaultPrefix, "context prefix")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk card verify --trust FILE [--root FILE] [--revocations FILE] [--max-list-age D] [--at TIME] [--prefix P] [PAYLOAD|-]")
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "trust"); err != nil {
		return err
	}
	if *revFile != "" && *rootFile == "" {
		fmt.Fprintln(env.Stderr, "kiosk card verify: --revocations needs --root")
		return errUsage
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(env.Stderr, "kiosk card verify: more than one payload")
		return errUsage
	}
	at, err := cardTime(env, "verify", "at", *atFlag)
	if err != nil {
		return err
	}
	lists, err := trust.Open(trust.Files{Root: *rootFile, Trust: *trustFile, Revocations: *revFile, MaxListAge: *maxAge})
	if err != nil {
		return err
	}
	// A key no card may be signed with is left out, as the kiosk leaves
	// it out: the others still verify, and the tester hears which one.
	for _, k := range lists.Skipped() {
		fmt.Fprintf(env.Stderr, "kiosk card verify: key skipped: kid %x, issuer %q: %v\n", k.KID, k.Issuer, k.Err)
	}
	v := lists.Verifier
	v.Prefix = *prefix

	payload := fs.Arg(0)
	if payload == "" || payload == "-" {
		data, err := io.ReadAll(io.LimitReader(env.Stdin, cardMaxStdin))
		if err != nil {
			return fmt.Errorf("read payload: %w", err)
		}
		// A scanner or a shell ends the line; Base45 has a space, so trim
		// only the line ending.
		payload = strings.TrimRight(string(data), "\r\n")
	}

	r := v.Verify(payload, at)
	out := cardVerifyOutput{
		Result:      r.Status,
		Stage:       r.Stage,
		Reason:      r.Reason(),
		SignatureOK: r.SignatureOK,
		KID:         hex.EncodeToString(r.KID),
	}
	if r.Card != nil {
		out.Iss, out.Serial = r.Card.Issuer, r.Card.Serial
		out.ExpiresAt = r.Card.ExpiresAt.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", b)
	if r.Status != card.Valid {
		if r.Err != nil {
			fmt.Fprintf(env.Stderr, "kiosk card verify: %s: %v\n", r.Status, r.Err)
		}
		return &exitError{Code: 1}
	}
	return nil
}

func cardRevoke(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "revoke")
	rootKeyFile := fs.String("root-key", "", "root private key (PEM) the list is signed with")
	listFile := fs.String("list", "", "signed revocation list to extend; created if missing")
	iss := fs.String("iss", "", "issuer name (CWT iss) of the card")
	serial := fs.String("serial", "", "card serial in hex")
	issuedAt := fs.String("issued-at", "", "issue time of the new list, RFC 3339 (default: now)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: kiosk card revoke --root-key FILE --list FILE --iss NAME --serial HEX [--issued-at TIME]

Writes the next edition of the list: its entries and this card, seq one
higher (1 for a new list), issued now, signed with the root key.`)
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "root-key", "list", "iss", "serial"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk card revoke: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	now, err := cardTime(env, "revoke", "issued-at", *issuedAt)
	if err != nil {
		return err
	}
	root, err := cardReadPrivateKey(*rootKeyFile)
	if err != nil {
		return err
	}
	var old *card.Revocations // nil: a new list, whose first seq is 1
	data, err := os.ReadFile(*listFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read revocations: %w", err)
	default:
		if old, err = card.OpenRevocations(data, root.Public()); err != nil {
			return fmt.Errorf("%s: %w", *listFile, err)
		}
	}
	next := old.Next()
	if err := next.Add(*iss, *serial); err != nil {
		return err
	}
	next.SetIssuedAt(now)
	signed, err := next.Sign(root)
	if err != nil {
		return err
	}
	if err := upload.WriteFile(*listFile, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "seq %d, %d entries\n", next.Seq(), next.Len())
	return nil
}

// cardRevocations is "kiosk card revocations show".
func cardRevocations(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "revocations show")
	rootFile := fs.String("root", "", "root public key (PEM) the list is signed with")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: kiosk card revocations show --root FILE LIST

Verifies LIST and prints it as JSON: seq, issued_at and the entries (hashes
of issuer and serial, see FORMAT.md), sorted.`)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "show" {
		fs.Usage()
		return errUsage
	}
	if help, err := cardParseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "root"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "kiosk card revocations show: want one list file")
		return errUsage
	}
	r, err := openSignedFile(*rootFile, fs.Arg(0), card.OpenRevocations)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", b)
	return nil
}

// cardTime parses the RFC 3339 value of a time flag, or returns now for "".
func cardTime(env *Env, cmd, flagName, value string) (time.Time, error) {
	if value == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		fmt.Fprintf(env.Stderr, "kiosk card %s: --%s: %v\n", cmd, flagName, err)
		return time.Time{}, errUsage
	}
	return t, nil
}

// cardReadPrivateKey reads a PKCS #8 PEM private key.
func cardReadPrivateKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := card.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}

// cardReadCertificate reads the first CERTIFICATE PEM block of file.
func cardReadCertificate(file string) (*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, fmt.Errorf("%s: no CERTIFICATE PEM block", file)
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			return cert, nil
		}
	}
}
