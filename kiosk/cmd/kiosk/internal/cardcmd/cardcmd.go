// Package cardcmd is "kiosk card": the tools an issuing office uses to make
// keys, issue cards, sign the trust list, revocations and rosters, and to
// verify a card as a kiosk would (a tester uses them too). They are a
// command group of their own, not part of the daemon's wiring: nothing the
// kiosk runs needs them, so they live apart from package main, the way the
// go command keeps each of its groups in cmd/go/internal. The cards are
// made by kiosk/card and the lists' editions by kiosk/trust; this package
// holds only their flags and output.
package cardcmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/qr"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// Command is "kiosk card", for the binary's command table.
func Command() *cli.Command {
	return &cli.Command{Name: "card", Summary: "issue, inspect and verify Secure Docket Cards", Usage: "COMMAND [FLAGS]",
		Example: "kiosk card keygen --alg EdDSA --key root-key.pem --pub root.pem", Subcommands: commands()}
}

// commands are the subcommands of "kiosk card".
func commands() []*cli.Command {
	fieldsUsage := "--iss NAME --a-number N --dob YYYY-MM-DD --office CODE [--family NAME --given NAME] [FLAGS]"
	return []*cli.Command{
		{Name: "keygen", Summary: "make an issuer key and its certificate, or a root key and its public key",
			Usage: "[--alg ALG] --key FILE (--subject NAME --cert FILE | --pub FILE)",
			Description: "An issuer key gets a self-signed certificate, whose kid its cards carry (--subject, --cert).\n" +
				"The root key that signs the trust and revocation lists gets its public key, the file a\n" +
				"kiosk pins with --root (--pub). The key file must not exist: a key is never overwritten.",
			Example:  "kiosk card keygen --alg EdDSA --key root-key.pem --pub root.pem\nkiosk card keygen --subject 'SDC NYC' --key nyc.key --cert nyc.pem",
			Required: []string{"key"}, Run: cardKeygen},
		{Name: "issue", Summary: "sign a card and print its QR payload", Usage: "--key FILE --cert FILE " + fieldsUsage,
			Example:  "kiosk card issue --key nyc.key --cert nyc.pem --iss SDC-NYC --a-number 204518377 --dob 1987-11-23 --office NYC --qr card.png",
			Required: append([]string{"key", "cert"}, cardFieldsRequired...), Run: cardIssue},
		{Name: "verify", Summary: "verify a payload and print the result as JSON",
			Usage:       "--trust FILE [--root FILE] [--revocations FILE] [--max-list-age D] [--at TIME] [--prefix P] [PAYLOAD|-]",
			Description: "Reads the payload from stdin when it is - or not given. Exits 1 when the card is not valid.",
			Example:     "kiosk card verify --root root.pem --trust trustlist.cose --revocations revocations.cose - < card.txt",
			Required:    []string{"trust"}, Args: "[PAYLOAD|-]", Run: cardVerify},
		{Name: "trustlist", Summary: "sign a trust list, or show one as JSON", Usage: "COMMAND [FLAGS]",
			Example: "kiosk card trustlist show --root root.pem trustlist.cose",
			Subcommands: []*cli.Command{
				{Name: "sign", Summary: "sign a trust list of issuer keys with the root key",
					Usage: "--root-key FILE --seq N --out FILE [--issued-at TIME] --entry SPEC...", Description: trustListSignHelp,
					Example:  "kiosk card trustlist sign --root-key root-key.pem --seq 2 --out trustlist.cose --entry 'iss=SDC-NYC,cert=nyc.pem,offices=NYC,not-before=2026-01-01T00:00:00Z,not-after=2031-01-01T00:00:00Z'",
					Required: []string{"root-key", "out"}, Run: cardTrustListSign},
				{Name: "show", Summary: "verify a trust list and print it as JSON", Usage: "--root FILE LIST",
					Description: trustListShowHelp, Example: "kiosk card trustlist show --root root.pem trustlist.cose",
					Required: []string{"root"}, Args: "LIST", Run: cardTrustListShow},
			}},
		{Name: "revoke", Summary: "add a card to a signed revocation list",
			Usage: "--root-key FILE --list FILE --iss NAME --serial HEX [--issued-at TIME]",
			Description: "Writes the next edition of the list: its entries and this card, seq one higher (1 for a\n" +
				"new list), issued now, signed with the root key.",
			Example:  "kiosk card revoke --root-key root-key.pem --list revocations.cose --iss SDC-NYC --serial 0a0b0c0d",
			Required: []string{"root-key", "list", "iss", "serial"}, Run: cardRevoke},
		{Name: "revocations", Summary: "show a signed revocation list as JSON", Usage: "COMMAND [FLAGS]",
			Example: "kiosk card revocations show --root root.pem revocations.cose",
			Subcommands: []*cli.Command{
				{Name: "show", Summary: "verify a revocation list and print it as JSON", Usage: "--root FILE LIST",
					Description: "Prints seq, issued_at and the entries (hashes of issuer and serial, see FORMAT.md), sorted.",
					Example:     "kiosk card revocations show --root root.pem revocations.cose",
					Required:    []string{"root"}, Args: "LIST", Run: cardRevocationsShow},
			}},
		{Name: "roster", Summary: "add a reference card to a roster, or look one up", Usage: "COMMAND [FLAGS]",
			Example: "kiosk card roster lookup --root root.pem --roster roster.cose https://docket.example.gov/c/REF",
			Subcommands: []*cli.Command{
				{Name: "add", Summary: "seal a card into a roster under a new reference and print its URL",
					Usage:    "--root-key FILE --roster FILE " + fieldsUsage + " [--url-prefix URL]",
					Example:  "kiosk card roster add --root-key root-key.pem --roster roster.cose --iss SDC-NYC --a-number 204518377 --dob 1987-11-23 --office NYC --url-prefix https://docket.example.gov/c/",
					Required: append([]string{"root-key", "roster"}, cardFieldsRequired...), Run: cardRosterAdd},
				{Name: "lookup", Summary: "look a reference up in a roster and print the card's handles as JSON",
					Usage: "--root FILE --roster FILE REFERENCE_OR_URL", Description: "Exits 1 when the roster does not hold the reference.",
					Example:  "kiosk card roster lookup --root root.pem --roster roster.cose https://docket.example.gov/c/REF",
					Required: []string{"root", "roster"}, Args: "REFERENCE_OR_URL", Run: cardRosterLookup},
			}},
	}
}

func cardKeygen(fs *flag.FlagSet) cli.Action {
	alg := fs.String("alg", card.AlgES256, "signature algorithm: ES256, PS256 or EdDSA")
	subject := fs.String("subject", "", "common name of the self-signed certificate (with --cert)")
	keyFile := fs.String("key", "", "file to write the private key to (PKCS #8 PEM, mode 0600; must not exist)")
	certFile := fs.String("cert", "", "file to write the self-signed certificate to (PEM): for an issuer key")
	pubFile := fs.String("pub", "", "file to write the public key to (PEM): for a root key, to pin with --root")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		switch {
		case *certFile == "" && *pubFile == "":
			return cli.Usagef("--cert or --pub is required")
		case *certFile != "" && *subject == "":
			return cli.Usagef("--subject is required with --cert")
		}
		key, cert, err := card.GenerateKey(*alg, *subject)
		if err != nil {
			return err
		}
		keyPEM, err := card.MarshalPrivateKeyPEM(key)
		if err != nil {
			return err
		}
		// Never overwrite a key: it may be the only copy of an issuer's
		// key. And never leave half of one: it is on disk, whole, before
		// its certificate names it.
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
}

func cardIssue(fs *flag.FlagSet) cli.Action {
	keyFile := fs.String("key", "", "issuer private key (PEM)")
	certFile := fs.String("cert", "", "issuer certificate (PEM); the card carries its kid")
	var fields cardFields
	fields.register(fs)
	prefix := fs.String("prefix", card.DefaultPrefix, "context prefix")
	qrFile := fs.String("qr", "", "also write the card's QR code to this PNG file")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		c, err := fields.card()
		if err != nil {
			return err
		}
		i, err := trust.ReadIssuer(*keyFile, *certFile)
		if err != nil {
			return err
		}
		i.Name, i.Prefix = c.Issuer, *prefix
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

// card is the card the flags describe; its serial is "" when --serial was
// not given.
func (f *cardFields) card() (card.Card, error) {
	iat, err := flagTime("issued-at", f.issuedAt)
	if err != nil {
		return card.Card{}, err
	}
	return card.Card{Issuer: f.iss, Serial: f.serial, IssuedAt: iat, ExpiresAt: iat.Add(f.validFor), ANumber: f.aNumber,
		FamilyName: f.family, GivenName: f.given, DateOfBirth: f.dob, Office: f.office}, nil
}

// flagTime parses the RFC 3339 value of a time flag, or returns now for
// "". A value that does not parse is a usage error.
func flagTime(name, value string) (time.Time, error) {
	if value == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, cli.Usagef("--%s: %v", name, err)
	}
	return t, nil
}

// printJSON prints v as one line of JSON, or indented.
func printJSON(w io.Writer, v any, indent bool) error {
	marshal := json.Marshal
	if indent {
		marshal = func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
	}
	b, err := marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", b)
	return nil
}

// cardMaxStdin bounds what verify reads from stdin: more than any card,
// so Verify itself reports an oversized payload.
const cardMaxStdin = 64 << 10

func cardVerify(fs *flag.FlagSet) cli.Action {
	trustFile := fs.String("trust", "", "signed trust list; without --root, PEM issuer certificates and public keys")
	rootFile := fs.String("root", "", "root public key (PEM) the lists are signed with")
	revFile := fs.String("revocations", "", "signed revocation list (needs --root)")
	maxAge := fs.Duration("max-list-age", 0, "how old the revocation list may be before a card is stale_lists; 0 for no limit")
	atFlag := fs.String("at", "", "time to verify at, RFC 3339 (default: now)")
	prefix := fs.String("prefix", card.DefaultPrefix, "context prefix")
	return func(_ context.Context, env *cli.Env, args []string) error {
		if *revFile != "" && *rootFile == "" {
			return cli.Usagef("--revocations needs --root")
		}
		at, err := flagTime("at", *atFlag)
		if err != nil {
			return err
		}
		lists, err := trust.Open(trust.Files{Root: *rootFile, Trust: *trustFile, Revocations: *revFile, MaxListAge: *maxAge})
		if err != nil {
			return err
		}
		// A key no card may be signed with is left out, as the kiosk
		// leaves it out: the others still verify, and the tester hears
		// which one.
		for _, k := range lists.Skipped() {
			fmt.Fprintf(env.Stderr, "kiosk card verify: key skipped: kid %x, issuer %q: %v\n", k.KID, k.Issuer, k.Err)
		}
		v := lists.Verifier
		v.Prefix = *prefix
		var payload string
		if len(args) > 0 {
			payload = args[0]
		}
		if payload == "" || payload == "-" {
			data, err := io.ReadAll(io.LimitReader(env.Stdin, cardMaxStdin))
			if err != nil {
				return fmt.Errorf("read payload: %w", err)
			}
			// A scanner or a shell ends the line; Base45 has a space, so
			// trim only the line ending.
			payload = strings.TrimRight(string(data), "\r\n")
		}
		// The result's JSON shows its outcome and the card's handles,
		// never its personal data.
		r := v.Verify(payload, at)
		if err := printJSON(env.Stdout, r, false); err != nil {
			return err
		}
		switch {
		case r.Status == card.Valid:
			return nil
		case r.Err != nil:
			return fmt.Errorf("%s: %w", r.Status, r.Err)
		}
		return &cli.ExitError{Code: 1}
	}
}

func cardRevoke(fs *flag.FlagSet) cli.Action {
	rootKeyFile := fs.String("root-key", "", "root private key (PEM) the list is signed with")
	listFile := fs.String("list", "", "signed revocation list to extend; created if missing")
	iss := fs.String("iss", "", "issuer name (CWT iss) of the card")
	serial := fs.String("serial", "", "card serial in hex")
	issuedAt := fs.String("issued-at", "", "issue time of the new list, RFC 3339 (default: now)")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		now, err := flagTime("issued-at", *issuedAt)
		if err != nil {
			return err
		}
		root, err := trust.ReadPrivateKey(*rootKeyFile)
		if err != nil {
			return err
		}
		next, signed, err := trust.NextRevocations(*listFile, root, *iss, *serial, now)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(*listFile, signed, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "seq %d, %d entries\n", next.Seq(), next.Len())
		return nil
	}
}

func cardRevocationsShow(fs *flag.FlagSet) cli.Action {
	rootFile := fs.String("root", "", "root public key (PEM) the list is signed with")
	return func(_ context.Context, env *cli.Env, args []string) error {
		r, err := trust.OpenSigned(*rootFile, args[0], card.OpenRevocations)
		if err != nil {
			return err
		}
		return printJSON(env.Stdout, r, false)
	}
}
