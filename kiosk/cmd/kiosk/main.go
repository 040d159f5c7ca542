// Command kiosk is the check-in kiosk: the daemon, its demo, and the tools
// that go with it (card issuing and verification, the reference upstream).
//
// It is the only package that imports every other package of the module:
// it builds the graph, declares the flags and prints; the packages it
// wires do the work. Its commands are one table, kioskCommand, which
// internal/cli dispatches with one policy for help and errors.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/cmd/kiosk/internal/cardcmd"
	"github.com/docketkiosk/checkin-kiosk/kiosk/cmd/kiosk/internal/hwcmd"
	"github.com/docketkiosk/checkin-kiosk/kiosk/cmd/kiosk/internal/staffcmd"
	"github.com/docketkiosk/checkin-kiosk/kiosk/cmd/kiosk/internal/updatecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	code := cli.Run(ctx, env, kioskCommand(), os.Args[1:])
	stop()
	os.Exit(code)
}

// kioskCommand is the command table: every command of the binary, nested
// ones included. Each Run declares the command's flags and returns what
// runs it; its file holds them.
func kioskCommand() *cli.Command {
	return &cli.Command{
		Name: "kiosk", Summary: "the Secure Docket Card check-in kiosk", Usage: "COMMAND [ARGUMENTS]",
		Example: "kiosk demo\nkiosk help card issue",
		Subcommands: []*cli.Command{
			{Name: "run", Summary: "run the kiosk daemon", Usage: "[--config FILE] [FLAGS]",
				Description: "Serves the kiosk page and API, verifies cards, commits and uploads check-ins.\n" +
					"The flags override the keys of the configuration file (kiosk config default prints one).",
				Example: "kiosk run --config /etc/kiosk/kiosk.toml", Run: runCommand},
			{Name: "config", Summary: "check, show and sample the daemon's configuration file", Usage: "COMMAND [FLAGS]",
				Example: "kiosk config default > kiosk.toml\nkiosk config check kiosk.toml",
				Subcommands: []*cli.Command{
					{Name: "check", Summary: "check a configuration file; print each error with its line", Usage: "[FILE]",
						Description: "Checks FILE (default /etc/kiosk/kiosk.toml) as kiosk run reads it.",
						Example:     "kiosk config check /etc/kiosk/kiosk.toml", Args: "[FILE]", Run: configCheck},
					{Name: "show", Summary: "print the configuration in effect, as TOML", Usage: "[--config FILE]",
						Example: "kiosk config show --config /etc/kiosk/kiosk.toml", Run: configShow},
					{Name: "default", Summary: "print a sample file: every key, its default and what it does", Usage: "",
						Example: "kiosk config default > /etc/kiosk/kiosk.toml", Run: configDefault},
				}},
			{Name: "demo", Summary: "run the kiosk with simulated hardware and an in-process upstream", Usage: "[FLAGS]",
				Description: "Makes a demo root, issuer, signed lists and sample cards in STATE/demo, enrolls with an\n" +
					"upstream in the same process, and scans what is typed on stdin.",
				Example: "kiosk demo --listen 127.0.0.1:8080", Run: demoCommand},
			cardcmd.Command(),
			hwcmd.Scanner(),
			hwcmd.Panel(),
			staffcmd.Command(),
			updatecmd.Command(),
			{Name: "upstream", Summary: "run the reference upstream server; make enrollment tokens", Usage: upstreamUsage,
				Description: upstreamDescription, Example: "kiosk upstream --state-dir /srv/upstream --listen :8443 --host upstream.example",
				Run: upstreamCommand,
				Subcommands: []*cli.Command{
					{Name: "token", Summary: "print a one-time enrollment token for a kiosk", Usage: "--kiosk-id ID [--office NAME] [--ttl D] [--state-dir DIR]",
						Example:  "kiosk upstream token --kiosk-id lobby-1 --office 'Newark field office' --state-dir /srv/upstream",
						Required: []string{"kiosk-id"}, Run: upstreamTokenCommand},
					{Name: "admin-token", Summary: "add an admin token for the operator endpoints; print it once", Usage: "[--state-dir DIR] [--admin-tokens FILE]",
						Example: "kiosk upstream admin-token --state-dir /srv/upstream", Run: upstreamAdminTokenCommand},
					upstreamConfigCommand(),
				}},
			{Name: "enroll", Summary: "pair this kiosk with an upstream", Usage: "--upstream URL --ca CA.pem --token T --kiosk-id ID [--state-dir DIR]",
				Description: "Registers the device key at the upstream and keeps the upstream's address, CA and\n" +
					"sealing key in STATE/enrollment.json for kiosk run.",
				Example:  "kiosk enroll --upstream https://upstream.example:8443 --ca ca.pem --token TOKEN --kiosk-id lobby-1",
				Required: []string{"upstream", "ca", "token", "kiosk-id"}, Run: enrollCommand},
			{Name: "status", Summary: "print how the running daemon is, and the staff dashboard's certificate", Usage: "[--config FILE] [--json]",
				Description: "Asks the daemon at kiosk.listen for its status (GET /api/v1/status) and prints it;\n" +
					"with a staff dashboard, its address and certificate fingerprint.",
				Example: "kiosk status", Run: statusCommand},
			selftestCmd(),
			{Name: "version", Summary: "print the version", Usage: "", Example: "kiosk version", Run: versionCommand},
		},
	}
}

// version and commit say which build this is; buildDate (run.go) says
// when. A release sets all three: -ldflags "-X main.version=v1.4.0
// -X main.commit=abc1234 -X main.buildDate=2026-12-03" (packaging/cross).
// A plain go build leaves version and commit empty: they are read from the
// build's own record (debug.ReadBuildInfo), and buildDate keeps its
// default, the clock floor of the source rather than the day of the build.
var (
	version = ""
	commit  = ""
)

// versionString is the version alone ("v1.4.0", "devel"): what the log
// and /healthz report, and what the updater compares with the release it
// switched to.
func versionString() string { return versionOf(readBuildInfo()) }

// buildString is the whole build: "v1.4.0 (commit abc1234, built
// 2026-12-03)". What kiosk version and kiosk selftest print.
func buildString() string { return describeBuild(readBuildInfo()) }

// readBuildInfo is the binary's build record, or nil when it has none.
func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// versionOf is the -X version, else the module version a go install
// module@version records, else "devel".
func versionOf(bi *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// commitOf is the -X commit, else the revision the go command recorded
// from git (its first 12 digits, as a pseudo-version has them), marked
// -dirty when the tree had changes; "unknown" without either (a build
// outside a repository, or with -buildvcs=false).
func commitOf(bi *debug.BuildInfo) string {
	if commit != "" {
		return commit
	}
	var rev string
	var dirty bool
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	rev = rev[:min(len(rev), 12)]
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// describeBuild is buildString for the build record bi.
func describeBuild(bi *debug.BuildInfo) string {
	return fmt.Sprintf("%s (commit %s, built %s)", versionOf(bi), commitOf(bi), buildDate)
}

func versionCommand(*flag.FlagSet) cli.Action {
	return func(_ context.Context, env *cli.Env, _ []string) error {
		fmt.Fprintf(env.Stdout, "kiosk %s\n", buildString())
		return nil
	}
}
