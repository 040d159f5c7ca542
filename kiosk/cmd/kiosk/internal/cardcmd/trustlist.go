package cardcmd

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

const trustListSignHelp = `Signs a trust list with the root key. Each --entry is one issuer key, as
comma-separated name=value pairs:

  iss=NAME          the issuing authority: the iss of the cards the key signs
  cert=FILE         the key's certificate (PEM); cards carry its kid
  key=FILE          or a bare public key (PEM PUBLIC KEY); cards carry its kid
  offices=A+B+...   the office codes it may issue for; * for any
  not-before=TIME   the first and last issue time (RFC 3339) of a card
  not-after=TIME    it may sign, both included

Values cannot hold a comma, office codes not a plus sign. --seq must be
higher than that of the list already in --out (kiosks refuse a lower one).`

const trustListShowHelp = `Verifies LIST and prints it as JSON: seq, issued_at and each entry's iss,
kid (hex), key kind, window and offices. An entry whose key no card may be
signed with (an ECDSA P-384 key, say) says why in "skipped": kiosks leave
it out and trust the others; skipped_keys counts them.`

// entryFlags collects the repeated --entry flag.
type entryFlags []string

func (e *entryFlags) String() string     { return strings.Join(*e, " ") }
func (e *entryFlags) Set(s string) error { *e = append(*e, s); return nil }

func cardTrustListSign(fs *flag.FlagSet) cli.Action {
	rootKeyFile := fs.String("root-key", "", "root private key (PEM) to sign with")
	seq := fs.Uint64("seq", 0, "the list's sequence number (required, > 0)")
	outFile := fs.String("out", "", "file to write the signed list to")
	issuedAt := fs.String("issued-at", "", "issue time, RFC 3339 (default: now)")
	var entries entryFlags
	fs.Var(&entries, "entry", "an issuer key: `SPEC` as above (repeat for each)")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		if *seq == 0 {
			return cli.Usagef("--seq is required and must be above 0")
		}
		now, err := flagTime("issued-at", *issuedAt)
		if err != nil {
			return err
		}
		list := &card.TrustList{Seq: *seq, IssuedAt: now}
		for i, spec := range entries {
			e, err := trust.ParseEntry(spec)
			if err != nil {
				return cli.Usagef("--entry %d: %v", i+1, err)
			}
			list.Entries = append(list.Entries, e)
		}
		root, err := trust.ReadPrivateKey(*rootKeyFile)
		if err != nil {
			return err
		}
		if err := trust.CheckTrustListSeq(*outFile, root.Public(), *seq); err != nil {
			return err
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
}

func cardTrustListShow(fs *flag.FlagSet) cli.Action {
	rootFile := fs.String("root", "", "root public key (PEM) the list is signed with")
	return func(_ context.Context, env *cli.Env, args []string) error {
		list, err := trust.OpenSigned(*rootFile, args[0], card.OpenTrustList)
		if err != nil {
			return err
		}
		return printJSON(env.Stdout, list, true)
	}
}
