package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
)

// enrollCommand is "kiosk enroll": its flags and output. The protocol and
// enrollment.json are sync/enroll.
func enrollCommand(fs *flag.FlagSet) cli.Action {
	url := fs.String("upstream", "", "upstream base `URL`, https://… (required)")
	caFile := fs.String("ca", "", "PEM `file` of the upstream's CA certificate, as `kiosk upstream` printed it (required)")
	token := fs.String("token", "", "one-time enrollment `token` from `kiosk upstream token` (required)")
	kioskID := fs.String("kiosk-id", "", "this kiosk's `name` at the upstream; the token was made for it (required)")
	stateDir := fs.String("state-dir", DefaultConfig().StateDir, "the daemon's state `directory`: the device key is made there if needed, and "+enroll.File+" written")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
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
}
