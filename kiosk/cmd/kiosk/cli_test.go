package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// TestCommandTree walks every command of the binary, nested ones included,
// and holds each to the one policy: -h, --help and "kiosk help PATH" print
// its usage, summary and example on stdout and exit 0; an unknown flag
// prints the usage on stderr and exits 2.
func TestCommandTree(t *testing.T) {
	var walk func(path []string, c *cli.Command)
	seen := 0
	walk = func(path []string, c *cli.Command) {
		seen++
		name := strings.Join(append([]string{"kiosk"}, path...), " ")
		if c.Summary == "" || c.Example == "" || strings.Contains(c.Summary, "\n") {
			t.Errorf("%s: summary %q, example %q; want a one-line summary and an example", name, c.Summary, c.Example)
		}
		if c.Run != nil {
			fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
			c.Run(fs)
			for _, r := range c.Required {
				if fs.Lookup(r) == nil {
					t.Errorf("%s: --%s is required but no flag", name, r)
				}
			}
		}
		for _, args := range [][]string{
			append(append([]string{}, path...), "-h"),
			append(append([]string{}, path...), "--help"),
			append([]string{"help"}, path...),
		} {
			code, stdout, stderr := runKiosk(args...)
			if code != 0 || stderr != "" {
				t.Errorf("kiosk %s: exit %d, stderr %q; want exit 0 and nothing on stderr", strings.Join(args, " "), code, stderr)
			}
			for _, want := range []string{name + ": " + c.Summary + "\n", "Usage: " + name + " ", "Example:\n  " + strings.Split(c.Example, "\n")[0] + "\n"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("kiosk %s: stdout lacks %q:\n%s", strings.Join(args, " "), want, stdout)
				}
			}
		}
		args := append(append([]string{}, path...), "--no-such-flag")
		code, stdout, stderr := runKiosk(args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, name+": ") || !strings.Contains(stderr, "Usage: "+name+" ") {
			t.Errorf("kiosk %s: exit %d, stdout %q, stderr %q; want exit 2, the error and the usage on stderr",
				strings.Join(args, " "), code, stdout, stderr)
		}
		for _, s := range c.Subcommands {
			walk(append(append([]string{}, path...), s.Name), s)
		}
	}
	walk(nil, kioskCommand())
	if seen < 20 {
		t.Errorf("walked %d commands; want every command of the binary", seen)
	}
}

// A command that fails for a reason other than its arguments exits 1 and
// says so on stderr, after its path: "kiosk SUB: what failed: why".
func TestCommandFailures(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	config := writeConfig(t, "")
	for _, tt := range []struct {
		args []string
		want string // the start of stderr
	}{
		{[]string{"card", "issue", "--key", missing, "--cert", missing, "--iss", "X", "--a-number", "1", "--dob", "1990-01-01", "--office", "XFO"},
			"kiosk card issue: read key: open " + missing},
		{[]string{"card", "trustlist", "show", "--root", missing, missing}, "kiosk card trustlist show: read public key: open " + missing},
		{[]string{"card", "revocations", "show", "--root", missing, missing}, "kiosk card revocations show: read public key: open " + missing},
		{[]string{"config", "show", "--config", missing}, "kiosk config show: "},
		{[]string{"enroll", "--upstream", "https://127.0.0.1:9", "--ca", missing, "--token", "t", "--kiosk-id", "k", "--state-dir", dir},
			"kiosk enroll: read CA: open " + missing},
		{[]string{"run", "--config", config, "--state-dir", dir, "--trust", missing}, "kiosk run: no seal key"},
		{[]string{"upstream", "token", "--kiosk-id", "k"}, "kiosk upstream token: no --state-dir"},
	} {
		code, stdout, stderr := runKiosk(tt.args...)
		if code != 1 || !strings.HasPrefix(stderr, tt.want) || strings.Contains(stderr, "Usage:") || stdout != "" {
			t.Errorf("kiosk %s: exit %d, stdout %q, stderr %q; want exit 1, stderr starting %q",
				strings.Join(tt.args, " "), code, stdout, stderr, tt.want)
		}
	}
}

// An office that could not be shown as one line of the fleet view is
// refused before anything is opened.
func TestUpstreamTokenOffice(t *testing.T) {
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	for _, office := range []string{" SFR", "SF\u202eR", strings.Repeat("x", upstream.MaxOfficeLen+1)} {
		code := dispatch(context.Background(), env, []string{"upstream", "token", "--kiosk-id", "k", "--office", office, "--state-dir", t.TempDir()})
		if code != 2 || !strings.Contains(errb.String(), "--office") {
			t.Errorf("--office %q: exit %d, %q; want a usage error naming --office", office, code, errb.String())
		}
		errb.Reset()
	}
}
