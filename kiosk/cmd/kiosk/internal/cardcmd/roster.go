package cardcmd

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// cardRosterAdd is "kiosk card roster add": a reference card added to a
// signed roster, as the issuing office's upstream would.
func cardRosterAdd(fs *flag.FlagSet) cli.Action {
	rootKeyFile := fs.String("root-key", "", "root private key the roster is signed with (PKCS #8 PEM)")
	rosterFile := fs.String("roster", "", "signed roster to add to; created (seq 1) if missing")
	var fields cardFields
	fields.register(fs)
	urlPrefix := fs.String("url-prefix", "", "URL prefix to print before the reference, e.g. https://docket.example.gov/c/")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		c, err := fields.card()
		if err != nil {
			return err
		}
		root, err := trust.ReadPrivateKey(*rootKeyFile)
		if err != nil {
			return err
		}
		// Issue draws a serial itself; a roster entry needs one here, to
		// print.
		if c.Serial == "" {
			if c.Serial, err = card.NewSerial(); err != nil {
				return err
			}
		}
		roster, err := trust.NextRoster(*rosterFile, root.Public(), time.Now())
		if err != nil {
			return err
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
}

// rosterLookupOutput is what "kiosk card roster lookup" prints: whether
// the reference is in the roster and the card's handles, never its personal
// data.
type rosterLookupOutput struct {
	Found     bool   `json:"found"`
	Iss       string `json:"iss"`
	Serial    string `json:"serial"`
	ExpiresAt string `json:"expires_at"`
}

func cardRosterLookup(fs *flag.FlagSet) cli.Action {
	rootFile := fs.String("root", "", "the pinned root public key (PUBLIC KEY PEM)")
	rosterFile := fs.String("roster", "", "signed roster")
	return func(_ context.Context, env *cli.Env, args []string) error {
		// A URL's reference is its last path segment.
		ref, err := card.ParseReference(args[0][strings.LastIndexByte(args[0], '/')+1:])
		if err != nil {
			return cli.Usagef("%v", err)
		}
		roster, err := trust.OpenSigned(*rootFile, *rosterFile, card.OpenRoster)
		if err != nil {
			return err
		}
		c, found, err := roster.Lookup(ref)
		if err != nil {
			return err
		}
		out := rosterLookupOutput{Found: found}
		if found {
			out.Iss, out.Serial = c.Issuer, c.Serial
			out.ExpiresAt = c.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if err := printJSON(env.Stdout, out, false); err != nil {
			return err
		}
		if !found {
			return &cli.ExitError{Code: 1}
		}
		return nil
	}
}
