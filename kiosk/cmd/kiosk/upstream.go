package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// Defaults of `kiosk upstream`.
const (
	defaultUpstreamListen = "127.0.0.1:8443"
	defaultUpstreamHosts  = "127.0.0.1,localhost"
	upstreamStateDirName  = "checkin-kiosk-upstream"
	upstreamDBName        = "upstream.db"
	upstreamTLSDirName    = "tls"
	upstreamDocsDirName   = "documents"
	upstreamShutdownGrace = 10 * time.Second
)

// upstreamCommand runs the reference upstream server until ctx ends, or
// with "token" as its first argument makes an enrollment token.
func upstreamCommand(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "token" {
		return upstreamTokenCommand(ctx, env, args[1:])
	}
	fs := flag.NewFlagSet("kiosk upstream", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	listen := fs.String("listen", defaultUpstreamListen, "`address` to serve the upload API on (HTTPS)")
	stateDir := upstreamStateDirFlag(fs)
	hosts := fs.String("host", defaultUpstreamHosts, "comma-separated host `names` and IP addresses kiosks reach the server by (its certificate names them)")
	docs := fs.String("documents", "", "`directory` of the signed documents served to kiosks, made at start: trustlist.cose, revocations.cose, roster.cose, notices.cose (default STATE/"+upstreamDocsDirName+")")
	silentAfter := fs.Duration("silent-after", upstream.DefaultSilentAfter, "how long without a heartbeat makes a kiosk silent in the stats")
	var faults upstream.Faults
	fs.Float64Var(&faults.ErrorRate, "fault-error-rate", 0, "fraction of kiosk requests answered 500 (testing only)")
	fs.Float64Var(&faults.ResetRate, "fault-reset-rate", 0, "fraction of kiosk requests whose connection breaks mid-response, unhandled (testing only)")
	fs.Float64Var(&faults.LostAckRate, "fault-lost-ack-rate", 0, "fraction of kiosk requests handled, then the connection broken before the answer (testing only)")
	fs.Float64Var(&faults.TooManyRate, "fault-429-rate", 0, "fraction of kiosk requests answered 429 (testing only)")
	fs.DurationVar(&faults.RetryAfter, "fault-retry-after", time.Second, "Retry-After of an injected 429")
	fs.Float64Var(&faults.LatencyRate, "fault-latency-rate", 0, "fraction of kiosk requests delayed by --fault-latency (testing only)")
	fs.DurationVar(&faults.Latency, "fault-latency", 0, "delay of a slowed request")
	fs.Uint64Var(&faults.Seed, "fault-seed", 0, "seed of the fault draws: the same seed repeats the same faults (0: random)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk upstream [--listen ADDR] [--state-dir DIR] [--host NAMES] [--documents DIR] [--fault-… ]")
		fmt.Fprintln(fs.Output(), "       kiosk upstream token --kiosk-id ID [--ttl D] [--state-dir DIR]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Runs the reference upstream server: the upload API of sync/API.md, over HTTPS from its own CA")
		fmt.Fprintln(fs.Output(), "(made in STATE/"+upstreamTLSDirName+" on first start), kiosks authenticated by their device")
		fmt.Fprintln(fs.Output(), "certificates. \"token\" makes a one-time enrollment token for `kiosk enroll`.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk upstream: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
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
	if *docs == "" {
		*docs = filepath.Join(dir, upstreamDocsDirName)
	}
	// Made at start, so that an administrator finds where the signed lists
	// go. Like the state directory, it is the server's alone: 0700.
	if err := os.MkdirAll(*docs, 0o700); err != nil {
		return fmt.Errorf("create documents directory: %w", err)
	}

	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	up, err := openUpstream(dir, log, splitList(*hosts))
	if err != nil {
		return err
	}
	defer up.Close()
	up.Server.SetDocumentDir(*docs)
	up.Server.SetSilentAfter(*silentAfter)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "upstream listening on https://%s\n", ln.Addr())
	fmt.Fprintf(env.Stdout, "CA certificate  %s\n", filepath.Join(dir, upstreamTLSDirName, upstream.CACertFile))
	fmt.Fprintf(env.Stdout, "CA fingerprint  %s\n", up.Authority.Fingerprint())
	// What a kiosk not enrolled takes as --seal-key; enrollment gives it too.
	fmt.Fprintf(env.Stdout, "seal key        %s\n", base64.StdEncoding.EncodeToString(up.Server.SealPublicKey()))
	fmt.Fprintf(env.Stdout, "documents       %s\n", *docs)
	if faults.Enabled() {
		log.Warn("fault injection on", "error", faults.ErrorRate, "reset", faults.ResetRate, "lost_ack", faults.LostAckRate,
			"too_many", faults.TooManyRate, "latency_rate", faults.LatencyRate, "latency", faults.Latency, "seed", faults.Seed)
	}
	return serveUpstream(ctx, ln, up, &faults, log)
}

// upstreamTokenCommand prints a one-time enrollment token for a kiosk.
func upstreamTokenCommand(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("kiosk upstream token", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	stateDir := upstreamStateDirFlag(fs)
	kioskID := fs.String("kiosk-id", "", "the `name` of the kiosk the token enrolls (required)")
	ttl := fs.Duration("ttl", upstream.DefaultTokenLifetime, "how long the token can be used")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 || *kioskID == "" {
		fmt.Fprintln(env.Stderr, "Usage: kiosk upstream token --kiosk-id ID [--ttl D] [--state-dir DIR]")
		return errUsage
	}
	dir, err := upstreamDir(env, *stateDir)
	if err != nil {
		return err
	}
	srv, err := upstream.Open(filepath.Join(dir, upstreamDBName), nil)
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

func upstreamStateDirFlag(fs *flag.FlagSet) *string {
	return fs.String("state-dir", "",
		"directory of the server's database and CA, "+upstreamDBName+` and `+upstreamTLSDirName+`/
(default $XDG_STATE_HOME/`+upstreamStateDirName+`, or ~/.local/state/`+upstreamStateDirName+`)`)
}

func upstreamDir(env *Env, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return defaultUpstreamStateDir(env.Getenv)
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

// defaultUpstreamStateDir is where the upstream keeps its database when no
// --state-dir is given: the XDG state directory, as the data is state (a
// record store), not configuration.
func defaultUpstreamStateDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, upstreamStateDirName), nil
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", upstreamStateDirName), nil
	}
	return "", errors.New("no --state-dir, and neither XDG_STATE_HOME nor HOME is set")
}

// upstreamState is an upstream server with its CA, as `kiosk upstream`,
// the demo and the tests run it.
type upstreamState struct {
	Server    *upstream.Server
	Authority *upstream.Authority
	lock      *statedir.Dir // the state directory, this process's alone
}

// Close closes the server's store and releases its state directory.
func (u *upstreamState) Close() error {
	return errors.Join(u.Server.Close(), u.lock.Close())
}

// openUpstream opens the server's store in dir and its CA in dir/tls,
// making the CA on first start. The caller closes Server.
func openUpstream(dir string, log *slog.Logger, hosts []string) (*upstreamState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create upstream state directory: %w", err)
	}
	// One server to a store: `upstream token` writes to it beside a
	// running server, but a second server would keep its own order of
	// each kiosk's batches.
	lock, err := statedir.Lock(dir)
	if err != nil {
		return nil, err
	}
	auth, err := upstream.LoadOrCreateAuthority(filepath.Join(dir, upstreamTLSDirName), hosts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	srv, err := upstream.Open(filepath.Join(dir, upstreamDBName), log)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &upstreamState{Server: srv, Authority: auth, lock: lock}, nil
}

// serveUpstream serves up's API over TLS on ln, with device authentication
// and faults (nil: none), until ctx ends, then shuts down gracefully: it
// stops accepting, lets batches in flight finish (so each is answered or not
// applied at all), and returns nil. It closes ln but not up.Server, which
// the caller closes afterwards. `kiosk demo` runs it in process.
func serveUpstream(ctx context.Context, ln net.Listener, up *upstreamState, faults *upstream.Faults, log *slog.Logger) error {
	hs := &http.Server{
		Handler:           faults.Wrap(up.Server.DeviceHandler()),
		TLSConfig:         up.Authority.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// HTTP/1.1 only: an injected reset or lost answer breaks the
		// connection itself, as a network does.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-served: // Serve returns only on failure before Shutdown
		return fmt.Errorf("serve upstream: %w", err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upstreamShutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-served // http.ErrServerClosed
	if err != nil {
		hs.Close()
		return fmt.Errorf("shut down upstream: %w", err)
	}
	log.Info("upstream stopped")
	return nil
}
