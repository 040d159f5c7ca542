package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// demoCommand is "kiosk demo": the daemon on kiosk/demokit's kit, with an
// upstream in the same process, scanning what is typed on stdin.
func demoCommand(fs *flag.FlagSet) cli.Action {
	m := NewMain()
	m.Config.KioskID = "demo-kiosk"
	// Every part simulated: the receipt printer and the service display
	// too, so the success screen says what became of the receipt.
	m.Config.Printer, m.Config.Display = "sim", "sim"
	m.Config.Office = "Demo field office"
	m.Config.UploadMaxBackoff = 5 * time.Second
	fs.StringVar(&m.Config.Listen, "listen", m.Config.Listen, "`address` of the kiosk page and API")
	state := fs.String("state-dir", "", "`directory` for the demo's state, kept across runs "+
		"(default $XDG_STATE_HOME/checkin-kiosk-demo, or ~/.local/state/checkin-kiosk-demo)")
	upstreamListen := fs.String("upstream-listen", "127.0.0.1:0", "`address` of the in-process upstream")
	m.Config.StaffListen = "127.0.0.1:0"
	fs.StringVar(&m.Config.StaffListen, "staff-listen", m.Config.StaffListen, "`address` of the staff dashboard; empty: none")
	fs.StringVar(&m.Config.LogLevel, "log-level", m.Config.LogLevel, "log `level`: debug, info (without the routine lines of the start), warn, error")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		level, err := config.ParseLevel(m.Config.LogLevel)
		if err != nil {
			return cli.Usagef("--log-level: %v", err)
		}
		m.Config.StateDir = *state
		if m.Config.StateDir == "" {
			m.Config.StateDir = demokit.DefaultDir(env.Getenv)
		}
		log, started := newDemoLogger(env.Stderr, level)
		m.Log = log
		return runDemo(ctx, env, m, *upstreamListen, started)
	}
}

// newDemoLogger returns the demo's logger and the function that ends its
// start. At level info, the routine lines of the start (lists loaded,
// enrolled, serving…), which the banner sums up, are left out, so that
// what follows the banner is what the newcomer does: until started, the
// level is warn. At level debug, everything passes.
func newDemoLogger(w io.Writer, level slog.Level) (*slog.Logger, func()) {
	lv := new(slog.LevelVar)
	lv.Set(level)
	if level > slog.LevelDebug {
		lv.Set(max(level, slog.LevelWarn))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), func() { lv.Set(level) }
}

// runDemo runs m with the demo kit and an in-process upstream until ctx
// ends. It prints the banner before anything starts, and calls started
// once the kiosk has its first downloads and takes scans typed in.
func runDemo(ctx context.Context, env *cli.Env, m *Main, upstreamListen string, started func()) error {
	state := m.Config.StateDir
	// The state directory first: a second demo on it must not rewrite
	// the kit under the first. Main.Run keeps the lock, and Close
	// releases it; this is for a failure before.
	lock, err := statedir.Lock(state)
	if err != nil {
		return err
	}
	defer lock.Close()
	m.lock = lock
	kit, err := demokit.Prepare(filepath.Join(state, "demo"), time.Now())
	if err != nil {
		return err
	}
	// Both listeners first: the banner needs only their addresses, and a
	// browser that connects before the kiosk serves waits in the backlog.
	if m.Listener == nil {
		if m.Listener, err = net.Listen("tcp", m.Config.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	defer m.Listener.Close() // Run takes it over; this is for a failure before
	upLn, err := net.Listen("tcp", upstreamListen)
	if err != nil {
		return fmt.Errorf("listen for upstream: %w", err)
	}
	defer upLn.Close() // upstream.Serve closes it; this is for a failure before
	// The upstream's operator endpoints take an admin token: one new on
	// every run and kept in memory only, as the staff password, so that
	// the banner can show the curl that reads the stats.
	adminToken, adminLine, err := upstream.NewAdminToken()
	if err != nil {
		return err
	}
	admin, err := upstream.ParseAdmin([]byte(adminLine))
	if err != nil {
		return err
	}
	printDemo(env.Stdout, m.Listener.Addr().String(), kit, state, upLn.Addr().String(), adminToken)

	// The upstream decrypts what it receives, so it keeps its store apart.
	up, err := openUpstream(filepath.Join(state, "upstream"), m.Log.With("part", "upstream"), []string{"127.0.0.1", "localhost"})
	if err != nil {
		return err
	}
	defer up.Close()
	up.Server.SetAdmin(admin)
	// The upstream serves the kit's signed lists (the same files the
	// kiosk starts with) and notices.
	up.Server.SetDocumentDir(kit.Dir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return upstream.Serve(gctx, upLn, upstream.ServeOptions{Server: up.Server, Authority: up.Authority, Log: m.Log.With("part", "upstream")})
	})

	m.Config.Root = kit.Root
	m.Config.Trust = kit.Trust
	m.Config.Revocations = kit.Revocations
	m.Config.Roster = kit.Roster
	m.Config.ReferencePrefix = demokit.ReferencePrefix
	m.Config.Upstream = "https://" + upLn.Addr().String()
	// The demo plays the administrator too: a token, and the kiosk enrolls
	// with it (again on every run, as the upstream's port changes).
	token, err := up.Server.NewEnrollToken(ctx, m.Config.KioskID, time.Minute)
	if err == nil {
		_, err = enroll.Enroll(ctx, m.Config.Upstream, up.Authority.CAPEM, token, m.Config.KioskID, state)
	}
	if err != nil {
		cancel()
		g.Wait()
		return fmt.Errorf("enroll the demo kiosk: %w", err)
	}
	// A staff account with a password new on every run, printed once.
	var staffPassword string
	if m.Config.StaffListen != "" {
		if staffPassword, err = staff.CreateDemoAccount(m.Config.StateDir); err != nil {
			cancel()
			g.Wait()
			return fmt.Errorf("demo staff account: %w", err)
		}
	}
	if err := m.Run(gctx); err != nil {
		cancel()
		g.Wait()
		return err
	}
	if m.staff != nil {
		fmt.Fprintf(env.Stdout, `  Staff dashboard https://%s/staff  (account demo, password %s;
                  certificate %s)

`, m.StaffAddr(), staffPassword, m.staff.Fingerprint())
	}
	g.Go(m.Wait)
	// The upstream is in this process: the kiosk's first downloads (its
	// lists and the notices) come before the first scan typed in, so the
	// demo shows them from the start.
	if m.downloader != nil {
		select {
		case <-m.downloader.Polled():
		case <-gctx.Done():
		}
	}
	started()
	go demokit.FeedLines(env.Stdin, func(text string) error {
		err := m.Scan(gctx, kit.Payload(text))
		if err != nil && gctx.Err() == nil {
			fmt.Fprintf(env.Stderr, "scan: %v\n", err)
		}
		return err
	}, env.Stderr)

	err = g.Wait()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// printDemo prints the banner: where the kiosk page is, how to scan, and
// the curl that reads the upstream's stats with its admin token.
func printDemo(w io.Writer, addr string, kit *demokit.Kit, state, upstreamAddr, adminToken string) {
	page := "http://" + addr + "/"
	fmt.Fprintf(w, `Check-in kiosk demo: all hardware simulated.

  Kiosk page      %s
  Status          %sapi/v1/status
  Upstream stats  curl --cacert %s -H "Authorization: Bearer %s" https://%s%s
  State           %s
  Sample cards    %s/{%s}.txt

To scan a card, type a sample's name (%s) or paste a card payload
here and press Enter, or send it to the simulated scanner:

  curl --data-binary @%s %sapi/v1/sim/scan

Press Ctrl-C to stop.
`, page, page, filepath.Join(state, "upstream", upstream.TLSDir, upstream.CACertFile), adminToken, upstreamAddr, wire.PathStats, state, kit.Dir, strings.Join(demokit.SampleNames, ","),
		strings.Join(demokit.SampleNames, ", "), filepath.Join(kit.Dir, "valid.txt"), page)
}
