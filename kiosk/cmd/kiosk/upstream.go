package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/postgres"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
)

const upstreamUsage = "[--config FILE] [--listen ADDR] [--state-dir DIR] [--db DSN] [--host NAMES] [--seal-key FILE] [--ca-cert FILE --ca-key FILE] [--fault-… ]"

const upstreamDescription = `Runs the reference upstream server: the upload API of sync/API.md, over HTTPS from its own CA
(made in STATE/` + upstream.TLSDir + ` on first start, or named by ca_cert and ca_key), kiosks authenticated by
their device certificates. The flags override the keys of the configuration file (` + config.DefaultUpstreamPath + `
when it exists; kiosk upstream config default prints one). The operator endpoints (stats, fleet,
metrics) take an admin token: on first start it makes STATE/` + upstream.AdminTokensFile + ` with one, printed once.
"token" makes a one-time enrollment token for ` + "`kiosk enroll`" + `; "admin-token" adds an admin token.`

// upstreamCommand runs the reference upstream server until ctx ends.
func upstreamCommand(fs *flag.FlagSet) cli.Action {
	load := config.UpstreamFlags(fs, config.DefaultUpstream())
	var faults upstream.Faults
	fs.Float64Var(&faults.ErrorRate, "fault-error-rate", 0, "fraction of kiosk requests answered 500 (testing only)")
	fs.Float64Var(&faults.ResetRate, "fault-reset-rate", 0, "fraction of kiosk requests whose connection breaks mid-response, unhandled (testing only)")
	fs.Float64Var(&faults.LostAckRate, "fault-lost-ack-rate", 0, "fraction of kiosk requests handled, then the connection broken before the answer (testing only)")
	fs.Float64Var(&faults.TooManyRate, "fault-429-rate", 0, "fraction of kiosk requests answered 429 (testing only)")
	fs.DurationVar(&faults.RetryAfter, "fault-retry-after", time.Second, "Retry-After of an injected 429")
	fs.Float64Var(&faults.LatencyRate, "fault-latency-rate", 0, "fraction of kiosk requests delayed by --fault-latency (testing only)")
	fs.DurationVar(&faults.Latency, "fault-latency", 0, "delay of a slowed request")
	fs.Uint64Var(&faults.Seed, "fault-seed", 0, "seed of the fault draws: the same seed repeats the same faults (0: random)")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		if err := faults.Check(); err != nil {
			return err
		}
		if faults.Seed == 0 {
			faults.Seed = uint64(time.Now().UnixNano())
		}
		conf, err := load(env.Getenv)
		if err != nil {
			return err
		}
		dir, err := upstreamDir(env, conf.StateDir)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(env.Stderr, nil))
		// The operator endpoints are closed without an admin: the token
		// file first, so that a damaged one stops the start before
		// anything else is opened.
		adminFile := cmp.Or(conf.AdminTokens, filepath.Join(dir, upstream.AdminTokensFile))
		admin, token, err := upstream.LoadOrCreateAdmin(adminFile)
		if err != nil {
			return fmt.Errorf("--admin-tokens (upstream.admin_tokens): %w (kiosk upstream admin-token adds a token)", err)
		}
		if token != "" {
			// As the demo prints its staff password: once, as only the
			// hash is kept.
			fmt.Fprintf(env.Stdout, "admin token     %s\n", token)
			fmt.Fprintf(env.Stdout, "                new, for the operator endpoints (Authorization: Bearer TOKEN): printed this once only,\n"+
				"                %s keeps only its hash\n", adminFile)
		}
		open, err := storeOpener(conf, log)
		if err != nil {
			return err
		}
		up, err := upstream.OpenDir(dir, dirOptions(conf, open, log))
		if err != nil {
			return err
		}
		defer up.Close()
		up.Server.SetAdmin(admin)
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", conf.Listen)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "upstream listening on https://%s\n", ln.Addr())
		fmt.Fprintf(env.Stdout, "CA certificate  %s\n", cmp.Or(conf.CACert, filepath.Join(dir, upstream.TLSDir, upstream.CACertFile)))
		fmt.Fprintf(env.Stdout, "CA fingerprint  %s\n", up.Authority.Fingerprint())
		// What a kiosk not enrolled takes as --seal-key; enrollment gives it too.
		fmt.Fprintf(env.Stdout, "seal key        %s\n", base64.StdEncoding.EncodeToString(up.Server.SealPublicKey()))
		fmt.Fprintf(env.Stdout, "documents       %s\n", up.Documents)
		fmt.Fprintf(env.Stdout, "admin tokens    %s\n", adminFile)
		return upstream.Serve(ctx, ln, upstream.ServeOptions{Server: up.Server, Authority: up.Authority, Faults: &faults, Log: log})
	}
}

// dirOptions are the options of the upstream conf configures, its store
// opened by open.
func dirOptions(conf config.Upstream, open func(string) (upstream.Store, error), log *slog.Logger) upstream.DirOptions {
	return upstream.DirOptions{OpenStore: open, Hosts: conf.Hosts, Documents: conf.Documents, SilentAfter: conf.SilentAfter,
		SealKey: conf.SealKey, CACert: conf.CACert, CAKey: conf.CAKey, Log: log}
}

// upstreamTokenCommand prints a one-time enrollment token for a kiosk.
func upstreamTokenCommand(fs *flag.FlagSet) cli.Action {
	load := config.UpstreamFlags(fs, config.DefaultUpstream(), "state-dir", "db", "db-file", "seal-key")
	kioskID := fs.String("kiosk-id", "", "the `name` of the kiosk the token enrolls (required)")
	ttl := fs.Duration("ttl", upstream.DefaultTokenLifetime, "how long the token can be used")
	office := fs.String("office", "", "the `office` the kiosk stands in, shown in the fleet view (e.g. \"Newark field office\"; empty: none)")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		if *office != "" && !upstream.ValidOffice(*office) {
			return cli.Usagef("--office: want 1 to %d printable characters, no space at either end", upstream.MaxOfficeLen)
		}
		conf, err := load(env.Getenv)
		if err != nil {
			return err
		}
		dir, err := upstreamDir(env, conf.StateDir)
		if err != nil {
			return err
		}
		open, err := storeOpener(conf, nil)
		if err != nil {
			return err
		}
		// Beside a running server: neither its lock nor its CA.
		srv, err := upstream.OpenServer(dir, dirOptions(conf, open, nil))
		if err != nil {
			return err
		}
		defer srv.Close()
		var opts []upstream.TokenOption
		if *office != "" {
			opts = append(opts, upstream.WithOffice(*office))
		}
		token, err := srv.NewEnrollToken(ctx, *kioskID, *ttl, opts...)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, token)
		return nil
	}
}

// upstreamAdminTokenCommand adds an admin token to the upstream's admin
// token file and prints it, once: the file keeps only its hash.
func upstreamAdminTokenCommand(fs *flag.FlagSet) cli.Action {
	load := config.UpstreamFlags(fs, config.DefaultUpstream(), "state-dir", "admin-tokens")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		conf, err := load(env.Getenv)
		if err != nil {
			return err
		}
		path := conf.AdminTokens
		if path == "" {
			dir, err := upstreamDir(env, conf.StateDir)
			if err != nil {
				return err
			}
			path = filepath.Join(dir, upstream.AdminTokensFile)
		}
		token, err := upstream.AddAdminToken(path)
		if err != nil {
			return err
		}
		// The token alone on stdout, for a script to keep; what it is on
		// stderr.
		fmt.Fprintln(env.Stdout, token)
		fmt.Fprintf(env.Stderr, "added an admin token to %s, which keeps only its hash: this is the only time it is shown;\n"+
			"a running upstream takes it at its restart\n", path)
		return nil
	}
}

// upstreamConfigCommand is `kiosk upstream config`: the upstream's
// configuration file sampled and checked, as `kiosk config` does the
// kiosk's.
func upstreamConfigCommand() *cli.Command {
	return &cli.Command{Name: "config", Summary: "check and sample the upstream's configuration file", Usage: "COMMAND",
		Example: "kiosk upstream config default > upstream.toml\nkiosk upstream config check upstream.toml",
		Subcommands: []*cli.Command{
			{Name: "check", Summary: "check a configuration file; print each error with its line", Usage: "[FILE]",
				Description: "Checks FILE (default " + config.DefaultUpstreamPath + ") as kiosk upstream reads it.",
				Example:     "kiosk upstream config check " + config.DefaultUpstreamPath, Args: "[FILE]", Run: upstreamConfigCheck},
			{Name: "default", Summary: "print a sample file: every key, its default and what it does", Usage: "",
				Example: "kiosk upstream config default > " + config.DefaultUpstreamPath, Run: upstreamConfigDefault},
		}}
}

func upstreamConfigCheck(*flag.FlagSet) cli.Action {
	return func(_ context.Context, env *cli.Env, args []string) error {
		path := config.DefaultUpstreamPath
		if len(args) == 1 {
			path = args[0]
		}
		if _, err := config.LoadUpstream(path); err != nil {
			fmt.Fprintln(env.Stderr, err) // one error to a line, each naming its file and line
			return &cli.ExitError{Code: 1}
		}
		fmt.Fprintf(env.Stdout, "%s: ok\n", path)
		return nil
	}
}

func upstreamConfigDefault(*flag.FlagSet) cli.Action {
	return func(_ context.Context, env *cli.Env, _ []string) error {
		return config.WriteUpstreamDefault(env.Stdout)
	}
}

// storeOpener returns what opens the store conf names: the embedded SQLite
// one, or the PostgreSQL one at its DSN.
func storeOpener(conf config.Upstream, log *slog.Logger) (func(string) (upstream.Store, error), error) {
	dsn, err := conf.ReadDSN()
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return sqlite.OpenIn, nil
	}
	return postgres.Opener(dsn, postgres.Options{Log: log}), nil
}

// upstreamDir is the state directory: state_dir, or the user's default.
func upstreamDir(env *cli.Env, stateDir string) (string, error) {
	if stateDir != "" {
		return stateDir, nil
	}
	dir, err := demokit.StateDir(env.Getenv, config.UpstreamStateDirName)
	if err != nil {
		return "", fmt.Errorf("no --state-dir: %w", err)
	}
	return dir, nil
}

// openUpstream opens the upstream kept in dir, its store in SQLite and its
// CA in dir/tls, making them on first start, as the demo and the tests run
// it. The caller closes it.
func openUpstream(dir string, log *slog.Logger, hosts []string) (*upstream.Dir, error) {
	return upstream.OpenDir(dir, upstream.DirOptions{OpenStore: sqlite.OpenIn, Hosts: hosts, Log: log})
}
