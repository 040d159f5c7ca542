package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
)

// enrollCommand is "kiosk enroll": its flags and output. The protocol and
// enrollment.json are sync/enroll.
func enrollCommand(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("kiosk enroll", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("upstream", "", "upstream base `URL`, https://… (required)")
	caFile := fs.String("ca", "", "PEM `file` of the upstream's CA certificate, as `kiosk upstream` printed it (required)")
	token := fs.String("token", "", "one-time enrollment `token` from `kiosk upstream token` (required)")
	kioskID := fs.String("kiosk-id", "", "this kiosk's `name` at the upstream; the token was made for it (required)")
	stateDir := fs.String("state-dir", DefaultConfig().StateDir, "the daemon's state `directory`: the device key is made there if needed, and "+enroll.File+" written")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk enroll --upstream URL --ca CA.pem --token T --kiosk-id ID [--state-dir DIR]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Pairs this kiosk with an upstream: registers the device key there and keeps the upstream's")
		fmt.Fprintln(fs.Output(), "address, CA and sealing key in STATE/"+enroll.File+" for `kiosk run`.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 || *url == "" || *caFile == "" || *token == "" || *kioskID == "" {
		fs.Usage()
		return errUsage
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	e, err := enroll.Enroll(ctx, *url, caPEM, *token, *kioskID, *stateDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "enrolled as %s at %s; wrote %s\n", e.KioskID, e.Upstream, filepath.Join(*stateDir, enroll.File))
	return nil
}
