package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// Two daemons on one state directory would share one outbox and collide on
// its seqs: the second refuses to start, naming the directory.
func TestSecondDaemonRefused(t *testing.T) {
	kit := testKit(t)
	state := t.TempDir()
	first := startKiosk(t, state, kit, "")
	err := startErr(t, kit, state, func(*Config) {})
	if !strings.Contains(err.Error(), state) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Run() = %v; want it to say %s is in use", err, state)
	}
	// The first one is unharmed.
	p := uitest.Dial(t, "http://"+first.Addr(), nil)
	p.Want("idle")
	simScan(t, first, kit.Samples["valid"])
	p.Want("confirm")
	p.Act("confirm")
	p.Want("success")
	// Once it stops, the directory is free again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	startKiosk(t, state, kit, "")
}

// The same, with real processes: `kiosk run`, `kiosk demo` and `kiosk
// upstream` each exit non-zero at once, with a message naming the
// directory, when another holds it.
func TestSecondProcessRefused(t *testing.T) {
	bin := buildKiosk(t)
	kit := testKit(t)
	seal := testSealKeyFile(t)
	runArgs := func(state string) []string {
		return []string{"run", "--listen", "127.0.0.1:0", "--state-dir", state, "--root", kit.Root,
			"--trust", kit.Trust, "--seal-key", seal, "--clock-synced-file", ""}
	}
	for _, tc := range []struct {
		name  string
		args  func(state string) []string
		ready string // what the first prints once it serves
	}{
		{"run", runArgs, `msg="kiosk serving" addr=(\S+)`},
		{"demo", func(state string) []string {
			return []string{"demo", "--listen", "127.0.0.1:0", "--upstream-listen", "127.0.0.1:0", "--state-dir", state}
		}, `Kiosk page\s+http://(\S+)/`},
		{"upstream", func(state string) []string {
			return []string{"upstream", "--listen", "127.0.0.1:0", "--state-dir", state}
		}, `upstream listening on https://(\S+)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			startProc(t, tc.name, bin, regexp.MustCompile(tc.ready), tc.args(state)...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, tc.args(state)...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("second kiosk %s: %v; want exit status 1\n%s", tc.name, err, out)
			}
			dir := state // for the demo, its kiosk's: its upstream's is below it
			if !strings.Contains(string(out), "kiosk "+tc.name+": ") || !strings.Contains(string(out), dir) ||
				!strings.Contains(string(out), "in use") {
				t.Errorf("second kiosk %s said:\n%s\nwant `kiosk %s: ...` naming %s as in use", tc.name, out, tc.name, filepath.Clean(dir))
			}
		})
	}
}
