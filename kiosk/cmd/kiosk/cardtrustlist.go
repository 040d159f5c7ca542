package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// cardTrustList is "kiosk card trustlist sign|show".
func cardTrustList(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "sign":
			return cardTrustListSign(ctx, env, args[1:])
		case "show":
			return cardTrustListShow(ctx, env, args[1:])
		}
	}
	fmt.Fprintln(env.Stderr, "Usage: kiosk card trustlist sign|show [FLAGS]  (-h for each)")
	return errUsage
}

// entryFlags collects the repeated --entry flag.
type entryFlags []string

func (e *entryFlags) String() string     { return strings.Join(*e, " ") }
func (e *entryFlags) Set(s string) error { *e = append(*e, s); return nil }

const trustListSignUsage = `Usage: kiosk card trustlist sign --root-key FILE --seq N --out FILE [--issued-at TIME] --entry SPEC...

Signs a trust list with the root key. Each --entry is one issuer key, as
comma-separated name=value pairs:

  iss=NAME          the issuing authority: the iss of the cards the key signs
  cert=FILE         the key's certificate (PEM); cards carry its kid
  key=FILE          or a bare public key (PEM PUBLIC KEY); cards carry its kid
  offices=A+B+...   the office codes it may issue for; * for any
  not-before=TIME   the first and last issue time (RFC 3339) of a card
  not-after=TIME    it may sign, both included

For example:

  --entry 'iss=SDC-NYC,cert=nyc.pem,offices=NYC+BOS,not-before=2026-01-01T00:00:00Z,not-after=2031-01-01T00:00:00Z'

Values cannot hold a comma, office codes not a plus sign. --seq must be
higher than that of the list already in --out (kiosks refuse a lower one).
`

func cardTrustListSign(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "trustlist sign")
	rootKeyFile := fs.String("root-key", "", "root private key (PEM) to sign with")
	seq := fs.Uint64("seq", 0, "the list's sequence number (required, > 0)")
	outFile := fs.String("out", "", "file to write the signed list to")
	issuedAt := fs.String("issued-at", "", "issue time, RFC 3339 (default: now)")
	var entries entryFlags
	fs.Var(&entries, "entry", "an issuer key: `SPEC` as above (repeat for each)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), trustListSignUsage)
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "root-key", "out"); err != nil {
		return err
	}
	if *seq == 0 {
		fmt.Fprintln(env.Stderr, "kiosk card trustlist sign: --seq is required and must be above 0")
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk card trustlist sign: unexpected argument %q (entries are given with --entry)\n", fs.Arg(0))
		return errUsage
	}
	now, err := cardTime(env, "trustlist sign", "issued-at", *issuedAt)
	if err != nil {
		return err
	}
	list := &card.TrustList{Seq: *seq, IssuedAt: now}
	for i, spec := range entries {
		e, err := parseEntrySpec(spec)
		if err != nil {
			fmt.Fprintf(env.Stderr, "kiosk card trustlist sign: --entry %d: %v\n", i+1, err)
			return errUsage
		}
		list.Entries = append(list.Entries, e)
	}
	root, err := cardReadPrivateKey(*rootKeyFile)
	if err != nil {
		return err
	}
	// Never replace a list with one kiosks would refuse, nor a file that is
	// not a list of this root.
	switch old, err := os.ReadFile(*outFile); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", *outFile, err)
	default:
		prev, err := card.OpenTrustList(old, root.Public())
		if err != nil {
			return fmt.Errorf("%s exists and is not a trust list of this root key; not replacing it: %w", *outFile, err)
		}
		if *seq <= prev.Seq {
			return fmt.Errorf("%s holds seq %d: --seq must be higher", *outFile, prev.Seq)
		}
	}
	data, err := list.Sign(root)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*outFile, data, 0o644); err != nil {
		return err
	}
	// Signed all the same (the list may serve other verifiers), but the
	// signer should know kiosks will skip it.
	for i := range list.Entries {
		if err := list.Entries[i].CheckKey(); err != nil {
			fmt.Fprintf(env.Stderr, "kiosk card trustlist sign: --entry %d: kiosks will skip this key: %v\n", i+1, err)
		}
	}
	fmt.Fprintf(env.Stdout, "seq %d, %d entries\n", list.Seq, len(list.Entries))
	return nil
}

// parseEntrySpec reads one --entry.
func parseEntrySpec(spec string) (card.TrustEntry, error) {
	var e card.TrustEntry
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" {
			return e, fmt.Errorf("%q is not name=value", kv)
		}
		if seen[name] {
			return e, fmt.Errorf("%s given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "iss":
			e.Issuer = value
		case "cert":
			e.Certificate, err = cardReadCertificate(value)
		case "key":
			e.PublicKey, err = readPublicKey(value)
		case "offices":
			e.Offices = strings.Split(value, "+")
		case "not-before":
			e.NotBefore, err = time.Parse(time.RFC3339, value)
		case "not-after":
			e.NotAfter, err = time.Parse(time.RFC3339, value)
		default:
			return e, fmt.Errorf("unknown name %q", name)
		}
		if err != nil {
			return e, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, name := range []string{"iss", "offices", "not-before", "not-after"} {
		if !seen[name] {
			return e, fmt.Errorf("%s is required", name)
		}
	}
	if seen["cert"] == seen["key"] {
		return e, errors.New("give one of cert and key")
	}
	return e, nil
}

// trustListOutput is what "kiosk card trustlist show" prints.
type trustListOutput struct {
	Seq      uint64             `json:"seq"`
	IssuedAt string             `json:"issued_at"`
	Entries  []trustEntryOutput `json:"entries"`
	// SkippedKeys counts the entries whose key no card may be signed
	// with: kiosks skip them, as the status's lists.skipped_keys counts.
	SkippedKeys int `json:"skipped_keys"`
}

type trustEntryOutput struct {
	Iss       string   `json:"iss"`
	KID       string   `json:"kid"`
	Key       string   `json:"key"`               // "cert" or "spki"
	Subject   string   `json:"subject,omitempty"` // the certificate's
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Offices   []string `json:"offices"`
	Skipped   string   `json:"skipped,omitempty"` // why kiosks skip the key; "" when they use it
}

func cardTrustListShow(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "trustlist show")
	rootFile := fs.String("root", "", "root public key (PEM) the list is signed with")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: kiosk card trustlist show --root FILE LIST

Verifies LIST and prints it as JSON: seq, issued_at and each entry's iss,
kid (hex), key kind, window and offices. An entry whose key no card may be
signed with (an ECDSA P-384 key, say) says why in "skipped": kiosks leave
it out and trust the others; skipped_keys counts them.`)
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "root"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "kiosk card trustlist show: want one list file")
		return errUsage
	}
	list, err := openSignedFile(*rootFile, fs.Arg(0), card.OpenTrustList)
	if err != nil {
		return err
	}
	out := trustListOutput{Seq: list.Seq, IssuedAt: list.IssuedAt.UTC().Format(time.RFC3339), Entries: []trustEntryOutput{}}
	for _, e := range list.Entries {
		kid, err := e.KID()
		if err != nil {
			return err
		}
		o := trustEntryOutput{
			Iss:       e.Issuer,
			KID:       hex.EncodeToString(kid),
			Key:       "spki",
			NotBefore: e.NotBefore.UTC().Format(time.RFC3339),
			NotAfter:  e.NotAfter.UTC().Format(time.RFC3339),
			Offices:   e.Offices,
		}
		if e.Certificate != nil {
			o.Key, o.Subject = "cert", e.Certificate.Subject.CommonName
		}
		if err := e.CheckKey(); err != nil {
			o.Skipped = err.Error()
			out.SkippedKeys++
		}
		out.Entries = append(out.Entries, o)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", b)
	return nil
}
