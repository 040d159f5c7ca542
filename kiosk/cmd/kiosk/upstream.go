package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// Defaults of `kiosk upstream`.
const (
	defaultUpstreamListen = "127.0.0.1:8081" // plain HTTP until TLS comes with device authentication
	upstreamStateDirName  = "checkin-kiosk-upstream"
	upstreamDBName        = "upstream.db"
	upstreamShutdownGrace = 10 * time.Second
)

// upstreamCommand runs the reference upstream server until ctx ends.
func upstreamCommand(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("kiosk upstream", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	listen := fs.String("listen", defaultUpstreamListen, "address to serve the upload API on (plain HTTP)")
	stateDir := fs.String("state-dir", "",
		"directory of the server's database, "+upstreamDBName+`
(default $XDG_STATE_HOME/`+upstreamStateDirName+`, or ~/.local/state/`+upstreamStateDirName+`)`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: kiosk upstream [--listen ADDR] [--state-dir DIR]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Runs the reference upstream server: the upload API of sync/API.md.")
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
	dir := *stateDir
	if dir == "" {
		var err error
		if dir, err = defaultUpstreamStateDir(env.Getenv); err != nil {
			return err
		}
	}

	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	srv, err := upstream.Open(filepath.Join(dir, upstreamDBName), log)
	if err != nil {
		return err
	}
	defer srv.Close()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "upstream listening on http://%s\n", ln.Addr())
	return serveUpstream(ctx, ln, srv, log)
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

// serveUpstream serves srv's API on ln until ctx ends, then shuts down
// gracefully: it stops accepting, lets batches in flight finish (so each is
// answered or not applied at all), and returns nil. It closes ln but not
// srv, which the caller closes afterwards. `kiosk demo` runs it in process.
func serveUpstream(ctx context.Context, ln net.Listener, srv *upstream.Server, log *slog.Logger) error {
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
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
