package main

import (
	"context"
	"crypto/rand"
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

// cardRosterCommand is "kiosk card roster": adding reference cards to a
// signed roster, as the issuing office's upstream would, and looking one up.
func cardRosterCommand(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "kiosk card roster", args, []command{
		{"add", "seal a card into a roster under a new reference and print its URL", cardRosterAdd},
		{"lookup", "look a reference up in a roster and print the card's handles as JSON", cardRosterLookup},
	})
}

func cardRosterAdd(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "roster add")
	rootKeyFile := fs.String("root-key", "", "root private key the roster is signed with (PKCS #8 PEM)")
	rosterFile := fs.String("roster", "", "signed roster to add to; created (seq 1) if missing")
	var fields cardFields
	fields.register(fs)
	urlPrefix := fs.String("url-prefix", "", "URL prefix to print before the reference, e.g. https://docket.example.gov/c/")
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, append([]string{"root-key", "roster"}, cardFieldsRequired...)...); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk card roster add: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	now := time.Now()
	c, err := fields.card(env, "roster add")
	if err != nil {
		return err
	}
	root, err := cardReadPrivateKey(*rootKeyFile)
	if err != nil {
		return err
	}
	// Issue draws a serial itself; a roster entry needs one here, to print.
	if c.Serial == "" {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("serial: %w", err)
		}
		c.Serial = hex.EncodeToString(b)
	}

	var roster *card.Roster
	data, err := os.ReadFile(*rosterFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if roster, err = card.NewRoster(1, now); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read roster: %w", err)
	default:
		old, err := card.OpenRoster(data, root.Public())
		if err != nil {
			return fmt.Errorf("%s: %w", *rosterFile, err)
		}
		roster = old.Next(now)
	}
	ref, err := card.NewReference()
	if err != nil {
		return err
	}
	if err := roster.Add(ref, c); err != nil {
		return err
	}
	signed, err := roster.Sign(root)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*rosterFile, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, *urlPrefix+ref)
	fmt.Fprintf(env.Stderr, "roster seq %d, %d entries; card serial %s\n", roster.Seq(), roster.Len(), c.Serial)
	return nil
}

// cardRosterLookupOutput is what "kiosk card roster lookup" prints: whether
// the reference is in the roster and the card's handles, never its personal
// data.
type cardRosterLookupOutput struct {
	Found     bool   `json:"found"`
	Iss       string `json:"iss"`
	Serial    string `json:"serial"`
	ExpiresAt string `json:"expires_at"`
}

func cardRosterLookup(_ context.Context, env *Env, args []string) error {
	fs := newCardFlags(env, "roster lookup")
	rootFile := fs.String("root", "", "the pinned root public key (PUBLIC KEY PEM)")
	rosterFile := fs.String("roster", "", "signed roster")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk card roster lookup --root FILE --roster FILE REFERENCE_OR_URL")
		fs.PrintDefaults()
	}
	if help, err := cardParseFlags(fs, args); help || err != nil {
		return err
	}
	if err := cardRequired(env, fs, "root", "roster"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "kiosk card roster lookup: want one reference or URL")
		fs.Usage()
		return errUsage
	}
	// A URL's reference is its last path segment.
	arg := fs.Arg(0)
	ref, err := card.ParseReference(arg[strings.LastIndexByte(arg, '/')+1:])
	if err != nil {
		fmt.Fprintf(env.Stderr, "kiosk card roster lookup: %v\n", err)
		return errUsage
	}
	roster, err := openSignedFile(*rootFile, *rosterFile, card.OpenRoster)
	if err != nil {
		return err
	}
	c, found, err := roster.Lookup(ref)
	if err != nil {
		return err
	}
	out := cardRosterLookupOutput{Found: found}
	if found {
		out.Iss, out.Serial = c.Issuer, c.Serial
		out.ExpiresAt = c.ExpiresAt.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", b)
	if !found {
		return &exitError{Code: 1}
	}
	return nil
}
