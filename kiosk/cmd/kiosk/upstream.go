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
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/postgres"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
)

// Defaults of `kiosk upstream`. The names of its state directory's parts
// are the packages' that keep them: sqlite.File, upstream.TLSDir,
// upstream.DocumentsDir and upstream.AdminTokensFile.
const (
	defaultUpstreamListen = "127.0.0.1:8443"
	defaultUpstreamHosts  = "127.0.0.1,localhost"
	upstreamStateDirName  = "checkin-kiosk-upstream"
)

const upstreamUsage = "[--listen ADDR] [--state-dir DIR] [--db DSN] [--host NAMES] [--documents DIR] [--admin-tokens FILE] [--fault-… ]"

const upstreamDescription = `Runs the reference upstream server: the upload API of sync/API.md, over HTTPS from its own CA
(made in STATE/` + upstream.TLSDir + ` on first start), kiosks authenticated by their device
certificates. The operator endpoints (stats, fleet, metrics) take an admin token: on first start
it makes STATE/` + upstream.AdminTokensFile + ` with one, printed once. "token" makes a one-time
enrollment token for ` + "`kiosk enroll`" + `; "admin-token" adds an admin token.`

// upstreamCommand runs the reference upstream server until ctx ends.
func upstreamCommand(fs *flag.FlagSet) cli.Action {
	listen := fs.String("listen", defaultUpstreamListen, "`address` to serve the upload API on (HTTPS)")
	stateDir := upstreamStateDirFlag(fs)
	hosts := fs.String("host", defaultUpstreamHosts, "comma-separated host `names` and IP addresses kiosks reach the server by (its certificate names them)")
	docs := fs.String("documents", "", "`directory` of the signed documents served to kiosks, made at start: trustlist.cose, revocations.cose, roster.cose, notices.cose (default STATE/"+upstream.DocumentsDir+")")
	silentAfter := fs.Duration("silent-after", upstream.DefaultSilentAfter, "how long without a heartbeat makes a kiosk silent in the stats")
	adminTokens := adminTokensFlag(fs)
	db := dbFlag(fs)
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
		dir, err := upstreamDir(env, *stateDir)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(env.Stderr, nil))
		// The operator endpoints are closed without an admin: the token
		// file first, so that a damaged one stops the start before
		// anything else is opened.
		adminFile := cmp.Or(*adminTokens, filepath.Join(dir, upstream.AdminTokensFile))
		admin, token, err := upstream.LoadOrCreateAdmin(adminFile)
		if err != nil {
			return fmt.Errorf("--admin-tokens: %w (kiosk upstream admin-token adds a token)", err)
		}
		if token != "" {
			// As the demo prints its staff password: once, as only the
			// hash is kept.
			fmt.Fprintf(env.Stdout, "admin token     %s\n", token)
			fmt.Fprintf(env.Stdout, "                new, for the operator endpoints (Authorization: Bearer TOKEN): printed this once only,\n"+
				"                %s keeps only its hash\n", adminFile)
		}
		open, err := storeOpener(env, *db, log)
		if err != nil {
			return err
		}
		up, err := upstream.OpenDir(dir, upstream.DirOptions{OpenStore: open, Hosts: splitList(*hosts),
			Documents: *docs, SilentAfter: *silentAfter, Log: log})
		if err != nil {
			return err
		}
		defer up.Close()
		up.Server.SetAdmin(admin)
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", *listen)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "upstream listening on https://%s\n", ln.Addr())
		fmt.Fprintf(env.Stdout, "CA certificate  %s\n", filepath.Join(dir, upstream.TLSDir, upstream.CACertFile))
		fmt.Fprintf(env.Stdout, "CA fingerprint  %s\n", up.Authority.Fingerprint())
		// What a kiosk not enrolled takes as --seal-key; enrollment gives it too.
		fmt.Fprintf(env.Stdout, "seal key        %s\n", base64.StdEncoding.EncodeToString(up.Server.SealPublicKey()))
		fmt.Fprintf(env.Stdout, "documents       %s\n", up.Documents)
		fmt.Fprintf(env.Stdout, "admin tokens    %s\n", adminFile)
		return upstream.Serve(ctx, ln, upstream.ServeOptions{Server: up.Server, Authority: up.Authority, Faults: &faults, Log: log})
	}
}

// upstreamTokenCommand prints a one-time enrollment token for a kiosk.
func upstreamTokenCommand(fs *flag.FlagSet) cli.Action {
	stateDir := upstreamStateDirFlag(fs)
	kioskID := fs.String("kiosk-id", "", "the `name` of the kiosk the token enrolls (required)")
	ttl := fs.Duration("ttl", upstream.DefaultTokenLifetime, "how long the token can be used")
	db := dbFlag(fs)
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		dir, err := upstreamDir(env, *stateDir)
		if err != nil {
			return err
		}
		open, err := storeOpener(env, *db, nil)
		if err != nil {
			return err
		}
		// Beside a running server: neither its lock nor its CA.
		srv, err := upstream.OpenServer(dir, upstream.DirOptions{OpenStore: open})
		if err != nil {
			return err
		}
		defer srv.Close()
		token, err := srv.NewEnrollToken(ctx, *kioskID, *ttl)
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
	stateDir := upstreamStateDirFlag(fs)
	adminTokens := adminTokensFlag(fs)
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		path := *adminTokens
		if path == "" {
			dir, err := upstreamDir(env, *stateDir)
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

// adminTokensFlag is --admin-tokens: "" is the default, in the state
// directory.
// envUpstreamDB is where `kiosk upstream` finds its database when --db is
// not given: a DSN may hold a password, which a command line shows to every
// user of the machine (ps) and an environment file (systemd's
// EnvironmentFile=, 0600) does not.
const envUpstreamDB = "KIOSK_UPSTREAM_DB"

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "the store: empty for the embedded SQLite file in the state directory, or a PostgreSQL\n"+
		"`DSN` (postgres://USER@HOST/DB?sslmode=verify-full; PG* variables fill what it leaves out) that\n"+
		"several replicas share (default $"+envUpstreamDB+")")
}

// storeOpener returns what opens the upstream's store: the embedded SQLite
// one, or the PostgreSQL one at dsn (or at $KIOSK_UPSTREAM_DB).
func storeOpener(env *cli.Env, dsn string, log *slog.Logger) (func(string) (upstream.Store, error), error) {
	dsn = cmp.Or(dsn, env.Getenv(envUpstreamDB))
	switch {
	case dsn == "":
		return sqlite.OpenIn, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Opener(dsn, postgres.Options{Log: log}), nil
	default:
		return nil, cli.Usagef("--db: want a postgres:// DSN, or nothing for the embedded store")
	}
}

func adminTokensFlag(fs *flag.FlagSet) *string {
	return fs.String("admin-tokens", "", "admin token `file` of the operator endpoints, one token's hash a line, made 0600 with one\n"+
		"new token (printed once) when missing (default STATE/"+upstream.AdminTokensFile+")")
}

func upstreamStateDirFlag(fs *flag.FlagSet) *string {
	return fs.String("state-dir", "",
		"directory of the server's database and CA, "+sqlite.File+` and `+upstream.TLSDir+`/
(default $XDG_STATE_HOME/`+upstreamStateDirName+`, or ~/.local/state/`+upstreamStateDirName+`)`)
}

func upstreamDir(env *cli.Env, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	dir, err := demokit.StateDir(env.Getenv, upstreamStateDirName)
	if err != nil {
		return "", fmt.Errorf("no --state-dir: %w", err)
	}
	return dir, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// openUpstream opens the upstream kept in dir, its store in SQLite and its
// CA in dir/tls, making them on first start, as the demo and the tests run
// it. The caller closes it.
func openUpstream(dir string, log *slog.Logger, hosts []string) (*upstream.Dir, error) {
	return upstream.OpenDir(dir, upstream.DirOptions{OpenStore: sqlite.OpenIn, Hosts: hosts, Log: log})
}
