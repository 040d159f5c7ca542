package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/devices"
	"github.com/docketkiosk/checkin-kiosk/drivers/printer"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/liveness"
	"github.com/docketkiosk/checkin-kiosk/internal/sdnotify"
	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/metrics"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/ui"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// buildDate is the day this release was built, set at build time with
// -ldflags "-X main.buildDate=2026-11-25". No clock earlier than it is
// plausible. Keep the default at least as recent as the last release.
var buildDate = "2026-11-25"

// buildFloor is buildDate as a time: the earliest plausible time.
func buildFloor() time.Time {
	t, err := time.Parse(time.DateOnly, buildDate)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Config is the daemon's configuration: config.Config, under the name the
// wiring has always used.
type Config = config.Config

// DefaultConfig returns the configuration "kiosk run" starts from, before
// its file and flags.
func DefaultConfig() Config { return config.Default() }

// Main is the daemon. A test can build one with a Config, Run it on port 0
// in a temporary directory with simulated hardware, and Close it.
type Main struct {
	Config Config
	Log    *slog.Logger // nil: text to stderr at Config.LogLevel
	// Listener, if set, is where the kiosk page is served instead of a
	// new listener on Config.Listen; Run takes it over (Close closes it).
	Listener net.Listener
	// Panel, if set, is the front panel instead of the one Config.Panel
	// names: a board the configuration cannot name, or a test's lines.
	Panel devices.Panel
	// Sinks, if set, are told of every screen after the daemon's own, on
	// the flow's goroutine (kiosk.ViewSink): another display of the
	// screen, or a test's probe.
	Sinks []kiosk.ViewSink
	// LoopLimit, if set, is how long any of the daemon's loops may be at
	// work before the watchdog calls it stuck, instead of each loop's own
	// limit (flowLimit, scanLimit, upload.LivenessLimit): for tests.
	LoopLimit time.Duration

	ln       net.Listener
	lock     *statedir.Dir
	store    *outbox.Store
	flow     *kiosk.Flow
	server   *ui.Server
	uploader *upload.Uploader
	scanner  scanner.Device // Run, State; Feed when simulated (devices.Feeder)
	panel    devices.Panel
	display  devices.Display // nil: none configured
	printer  devices.Printer // nil: none configured
	receipts *devices.Receipts
	lights   *devices.PanelSink
	metrics  *metrics.Metrics
	staff    *staff.Server // nil: no dashboard (staff.listen "")
	staffLn  net.Listener

	// maintenance is the staff's maintenance mode: out of service while on.
	maintenance atomic.Bool
	clock       *kiosk.Clock
	kioskID     string // the configured id, or enrollment's

	// enclosureOpen is the tamper switch, as the panel last said: the
	// kiosk is out of service while it is open.
	enclosureOpen atomic.Bool

	lists      *trust.Lists // the card verifier and notices, swapped when a list is downloaded
	downloader *upload.Downloader

	storage *outbox.Monitor // whether the outbox can take a check-in

	// loops are the loops the watchdog watches (healthy): the flow, the
	// scanner's relay to it, and the uploader.
	loops liveness.Set

	// level is the level of the logger Run makes (and of a Log built on
	// it): Run sets it from Config.LogLevel, Reload changes it.
	level slog.LevelVar
	// load reads the configuration again as ParseFlags did, for a reload:
	// the file, then the flags given. Nil without ParseFlags.
	load     func() (Config, error)
	reloadMu sync.Mutex // serializes Reload

	cancel context.CancelFunc
	group  *errgroup.Group
	once   sync.Once
	err    error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main { return &Main{Config: DefaultConfig()} }

// flags declares the flags of "kiosk run" on fs (config.Flags), and
// returns what sets m.Config from them once they are parsed: the file
// --config names, then each flag given, over its key. A reload reads both
// again (m.load).
func (m *Main) flags(fs *flag.FlagSet) (configure func() error) {
	load := config.Flags(fs, m.Config)
	return func() error {
		c, err := load()
		if err != nil {
			return err
		}
		m.Config, m.load = c, load
		return nil
	}
}

// ParseFlags sets m.Config from the arguments of "kiosk run", as the
// command does (flags).
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configure := m.flags(fs)
	if err := fs.Parse(args); err != nil {
		return cli.Usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	return configure()
}

// Run opens the state, starts every part of the daemon and returns once the
// kiosk page is served. The daemon runs until ctx ends or Close is called;
// Wait returns its error.
func (m *Main) Run(ctx context.Context) (err error) {
	c := m.Config
	level, err := config.ParseLevel(c.LogLevel)
	if err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	m.level.Set(level)
	if m.Log == nil {
		m.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &m.level}))
	}
	log := m.Log
	defer func() {
		if err != nil {
			m.closeState()
		}
	}()

	// First: a source that is wrong is refused before anything is opened
	// or made. No driver touches its device yet: a kiosk whose scanner,
	// panel, display or printer is missing starts, and says so.
	if err := m.openDevices(c); err != nil {
		return err
	}

	// One daemon to a state directory: a second one would share the
	// outbox, and their check-ins would collide on the same seq. Lock
	// makes the directory. (The demo takes it before Run.)
	if m.lock == nil {
		if m.lock, err = statedir.Lock(c.StateDir); err != nil {
			return err
		}
	}
	// `kiosk enroll` names the kiosk, its upstream and that upstream's CA.
	enr, err := enroll.Load(c.StateDir)
	if err != nil {
		return err
	}
	if enr != nil {
		if c.KioskID != enr.KioskID {
			log.Info("kiosk id from enrollment", "kiosk", enr.KioskID, "configured", c.KioskID)
		}
		c.KioskID = enr.KioskID // the device key is enrolled as this id, and no other
		if c.Upstream == "" {
			c.Upstream = enr.Upstream
		}
	}
	m.kioskID = c.KioskID
	// The upstream's seal key hides the person in every record; the device
	// key signs it. Without a seal key there is no store: the kiosk takes
	// no check-ins before it is enrolled, and makes no key either.
	sealKey, err := enr.SealKeyOr(c.SealKey)
	if err != nil {
		return err
	}
	dev, err := device.LoadOrCreate(c.StateDir)
	if err != nil {
		return err
	}
	m.store, err = outbox.Open(filepath.Join(c.StateDir, "kiosk.db"), outbox.Options{
		KioskID:        c.KioskID,
		Device:         dev,
		SealKey:        sealKey,
		Retention:      c.Retention,
		RecoverCorrupt: c.RecoverCorrupt,
		Reserve:        c.DiskReserve,
		Log:            log.With("part", "outbox"),
	})
	if err != nil {
		return err
	}
	m.clock = &kiosk.Clock{Synced: kiosk.SyncedFile(c.ClockSyncedFile), Floor: buildFloor(), Store: m.store}
	if err := m.clock.Load(ctx); err != nil {
		return fmt.Errorf("load trusted time: %w", err)
	}
	// After the outbox (it holds the highest list seqs accepted) and the
	// clock (a signed list's issue time is one to trust).
	m.lists = &trust.Lists{
		Files:     listFiles(c),
		Dir:       filepath.Join(c.StateDir, trust.DirName),
		State:     m.store,
		WriteFile: atomicfile.Write,
		Log:       log.With("part", "lists"),
		Issued: func(ctx context.Context, t time.Time) error {
			if err := m.clock.Advance(ctx, t); err != nil {
				return fmt.Errorf("persist trusted time: %w", err)
			}
			return nil
		},
	}
	if err := m.lists.Load(ctx); err != nil {
		return err
	}
	if t, state := m.clock.Now(); state == kiosk.ClockImplausible {
		log.Warn("system clock is behind the last trusted time: using that time, marking records", "trusted", t)
	}

	actions := make(chan kiosk.Action)
	m.flow = &kiosk.Flow{
		Verifier:       m.lists,
		Store:          m.store,
		Prior:          m.store,
		Notices:        m.lists,
		Clock:          m.clock,
		Log:            log.With("part", "flow"),
		ConfirmTimeout: c.ConfirmTimeout,
		ResultTimeout:  c.ResultTimeout,
		HelpTimeout:    c.HelpTimeout,
		Challenge:      c.Challenge,
		Liveness:       m.loop("flow", flowLimit),
	}
	if urls := c.UpstreamURLs(); len(urls) > 0 {
		// One client for every replica: one agency, one CA (config.Check
		// refuses http mixed with https).
		client, err := enroll.Client(urls[0], c.UpstreamCA, enr, dev, c.KioskID)
		if err != nil {
			return err
		}
		if client == nil {
			log.Warn("plain HTTP upstream: no device authentication; for development only", "upstream", c.Upstream)
		}
		m.uploader = &upload.Uploader{
			Store:      m.store,
			Heads:      m.store, // heartbeats: the signed chain head
			Quarantine: m.store,
			URLs:       urls,
			Client:     client,
			Log:        log.With("part", "upload"),
			MinBackoff: c.UploadMinBackoff,
			MaxBackoff: c.UploadMaxBackoff,
			Liveness:   m.loop("upload", upload.LivenessLimit(0)),
		}
		if c.Root != "" { // without a root key, nothing downloaded can be verified
			if err := m.lists.LoadNotices(); err != nil {
				return err
			}
			m.downloader = &upload.Downloader{
				URLs:   urls,
				Client: client,
				Lists:  m.lists,
				Kinds:  listFiles(c).Kinds(),
				Log:    log.With("part", "download"),
			}
		}
	} else {
		log.Warn("no upstream configured: check-ins stay queued")
	}
	// The metrics read the status as the page's API gives it (the
	// server adds the browser's heartbeat), and count the flow's screens.
	m.metrics = metrics.New(metrics.Config{
		Status: func(ctx context.Context) (ui.Status, error) { return m.server.Status(ctx) },
		Log:    log.With("part", "metrics"),
	})
	m.server = ui.New(ui.Config{
		Views:   m.flow,
		Actions: actions,
		SimScan: devices.SimFeed(m.scanner),
		Status:  m.status,
		Metrics: m.metrics.Handler(),
		Version: versionString(),
		Log:     log.With("part", "ui"),
	})
	m.lights = &devices.PanelSink{Out: m.panel}
	m.flow.Sinks = []kiosk.ViewSink{m.server, m.lights, m.metrics}
	if c.StaffListen != "" {
		if err := m.startStaff(c, log); err != nil {
			return err
		}
		m.flow.Sinks = append(m.flow.Sinks, &staffAlerts{s: m.staff})
	}
	m.flow.Sinks = append(m.flow.Sinks, m.Sinks...)
	m.flow.ScanLatency = m.metrics.ObserveScan
	if m.printer != nil {
		m.receipts = &devices.Receipts{Printer: m.printer, Office: c.Office, KioskID: c.KioskID,
			Offline: m.offline, Text: ui.Text, Log: log.With("part", "printer")}
		m.flow.Printer = m.receipts
	}
	m.storage = &outbox.Monitor{Store: m.store, Every: c.StorageCheck, OutOfService: m.flow.SetOutOfService, Log: log}
	m.storage.Check(ctx) // before the first screen: out of service from the start

	if m.ln = m.Listener; m.ln == nil {
		if m.ln, err = net.Listen("tcp", c.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}

	ctx, m.cancel = context.WithCancel(ctx)
	g, ctx := errgroup.WithContext(ctx)
	m.group = g
	scans := make(chan kiosk.Scan)
	g.Go(func() error { return m.flow.Run(ctx, scans, actions) })
	g.Go(func() error { return m.server.Serve(ctx, m.ln) })
	scanLoop := m.loop("scanner", scanLimit)
	g.Go(func() error { return devices.Scans(ctx, m.scanner, scans, scanLoop) })
	g.Go(func() error {
		return devices.WatchScanner(ctx, m.scanner, m.flow.SetScannerReady, log.With("part", "scanner"))
	})
	g.Go(func() error { return devices.Actions(ctx, m.panel, actions, m.setEnclosureOpen) })
	g.Go(func() error { return devices.WatchDevices(ctx, m.watched(), log.With("part", "devices")) })
	g.Go(func() error { return m.watchOffline(ctx) })
	if m.staff != nil {
		g.Go(func() error { return m.staff.Serve(ctx, m.staffLn) })
		g.Go(func() error { return m.watchAlerts(ctx) })
	}
	if m.receipts != nil {
		g.Go(func() error { return m.receipts.Run(ctx) })
	}
	if w, ok := m.printer.(printer.Watcher); ok {
		// The printer's state between receipts: staff see "paper out"
		// before the next person does.
		g.Go(func() error { return w.Run(ctx) })
	}
	if m.display != nil {
		g.Go(func() error {
			return devices.RunDisplay(ctx, m.display, 0, m.displayInfo, log.With("part", "display"))
		})
	}
	if m.uploader != nil {
		g.Go(func() error { return m.uploader.Run(ctx) })
	}
	if m.downloader != nil {
		g.Go(func() error { return m.downloader.Run(ctx) })
	}
	g.Go(func() error { return sdnotify.Watchdog(ctx, log, m.healthy) })
	g.Go(func() error { return m.clock.Run(ctx, log) })
	g.Go(func() error {
		return m.store.RunCheckpoints(ctx, func() bool { return m.flow.View().Screen == kiosk.ScreenIdle })
	})
	g.Go(func() error { return m.storage.Run(ctx) })
	if dir := runtimeDir(); dir != "" {
		// Under systemd (RuntimeDirectory=kiosk): a silent page has
		// systemd restart the browser (kiosk-browser-restart.path).
		w := &ui.BrowserWatchdog{Browser: m.server.Browser,
			Restart: ui.RestartFile(filepath.Join(dir, ui.BrowserRestartFile)), Log: log.With("part", "browser")}
		g.Go(func() error { return w.Run(ctx) })
	}

	log.Info("kiosk serving", "addr", m.ln.Addr().String(), "version", versionString())
	sdnotify.Notify(log, sdnotify.Ready)
	return nil
}

// Wait blocks until the daemon stops and returns why: nil when its context
// ended or Close was called.
func (m *Main) Wait() error {
	if m.group == nil {
		return nil
	}
	err := m.group.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close stops the daemon, waits for every part to finish and closes the
// store. It is safe to call more than once.
func (m *Main) Close() error {
	m.once.Do(func() {
		if m.cancel != nil {
			sdnotify.Notify(m.Log, sdnotify.Stopping)
			m.cancel()
		}
		m.err = m.Wait()
		m.closeState()
	})
	return m.err
}

func (m *Main) closeState() {
	if m.ln != nil {
		m.ln.Close()
	}
	if m.staffLn != nil {
		m.staffLn.Close()
	}
	if m.display != nil {
		m.display.Close()
		m.display = nil
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			m.Log.Error("close outbox", "err", err)
		}
		m.store = nil
	}
	if m.lock != nil {
		m.lock.Close() // last: nothing of the state directory is open now
		m.lock = nil
	}
}

// service is what /api/v1/status and /healthz say of taking check-ins:
// not with the enclosure open, nor when the outbox cannot record, nor
// without a scanner to read a card.
func (m *Main) service() ui.Service {
	if m.enclosureOpen.Load() {
		return ui.Service{State: ui.OutOfService, Reason: kiosk.ReasonEnclosureOpen, Error: "the tamper switch says the enclosure is open"}
	}
	if err := m.storage.Err(); err != nil {
		return ui.Service{State: ui.OutOfService, Reason: outbox.Reason(err), Error: err.Error()}
	}
	if m.maintenance.Load() {
		return ui.Service{State: ui.OutOfService, Reason: kiosk.ReasonMaintenance, Error: "staff put the kiosk in maintenance mode"}
	}
	if st := m.scanner.State(); st.Condition != scanner.OK {
		msg := "scanner " + string(st.Condition)
		if st.Reason != "" {
			msg += ": " + st.Reason
		}
		return ui.Service{State: ui.OutOfService, Reason: kiosk.ReasonScannerUnavailable, Error: msg}
	}
	return ui.Service{State: ui.InService}
}

// Addr returns the address the kiosk page is served on, once Run returned.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// How long a loop may be at work before the watchdog calls it stuck. The
// flow's work is a verification, a commit (an fsync on an SD card: well
// under a second, seconds when the card is worn) and the sinks, which do
// not block. The scanner's relay waits for the flow to take a scan, so
// its limit is the flow's and a little more: the flow is named first.
const (
	flowLimit = 20 * time.Second
	scanLimit = flowLimit + 5*time.Second
)

// runtimeDir is the daemon's runtime directory as systemd gives it
// (RuntimeDirectory=kiosk sets $RUNTIME_DIRECTORY, /run/kiosk), or "" when
// there is none: run by hand, or the demo, with no browser to restart.
func runtimeDir() string {
	dir, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":")
	return dir
}

// loop returns a watched loop called name with limit (or LoopLimit).
func (m *Main) loop(name string, limit time.Duration) *liveness.Loop {
	l := liveness.New(name, cmp.Or(m.LoopLimit, limit))
	m.loops = append(m.loops, l)
	return l
}

// healthy reports whether the daemon works, for the watchdog: the outbox
// answers, and none of its loops (the flow, the scanner's relay, the
// uploader) is stuck at work. Waiting is not stuck: an idle kiosk is
// healthy however long nobody comes.
func (m *Main) healthy(ctx context.Context) error {
	if _, err := m.store.Stats(ctx); err != nil {
		return err
	}
	return m.loops.Check(time.Now())
}

func (m *Main) status(ctx context.Context) (ui.Status, error) {
	st, err := m.store.Stats(ctx)
	if err != nil {
		return ui.Status{}, err
	}
	s := ui.Status{
		Screen:  m.flow.View().Screen,
		Service: m.service(),
		Scanner: scannerStatus(m.Config.Scanner, m.scanner),
		Panel:   panelStatus(m.Config.Panel, m.panel),
		Display: displayStatus(m.Config.Display, m.display),
		Printer: printerStatus(m.Config.Printer, m.printer),
		Outbox: ui.Outbox{Pending: st.Pending, UploadedTotal: st.Uploaded, LastUpload: st.LastUpload,
			Quarantined: st.Quarantined, OldestPending: st.OldestPending},
		Clock: ui.Clock{Trusted: m.clock.Trusted()},
	}
	now, state := m.clock.Now()
	s.Clock.State = state
	l := m.lists.Status(now)
	s.Lists = ui.Lists{TrustSeq: l.TrustSeq, RevocationsSeq: l.RevocationsSeq, RevocationsIssuedAt: l.RevocationsIssuedAt,
		Stale: l.Stale, SkippedKeys: l.SkippedKeys}
	if m.uploader != nil {
		us := m.uploader.Status()
		s.Upload = ui.Upload{LastAttempt: us.LastAttempt, LastError: us.LastError,
			LastHeartbeat: us.LastHeartbeat, HeadState: us.HeadState}
	}
	if err := m.store.LastError(); err != nil {
		s.Outbox.LastError = err.Error()
	}
	s.Storage.ReserveBytes = m.Config.DiskReserve
	if free, err := statedir.Free(m.Config.StateDir); err == nil {
		s.Storage.FreeBytes = free
	}
	return s, nil
}

func runCommand(fs *flag.FlagSet) cli.Action {
	m := NewMain()
	configure := m.flags(fs)
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		if err := configure(); err != nil {
			return err
		}
		// SIGHUP (systemctl reload) reloads the configuration. Caught
		// before Run: its default is to end the process, and one sent
		// while the daemon starts is kept for when it has started.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		if err := m.Run(ctx); err != nil {
			return err
		}
		// The daemon runs until ctx ends (nil) or a part fails (its
		// error); either way, stop everything before exiting.
		err := m.waitReloading(ctx, hup)
		if cerr := m.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// listFiles are the list files and settings of c, as kiosk/trust takes them.
func listFiles(c Config) trust.Files {
	return trust.Files{Root: c.Root, Trust: c.Trust, Revocations: c.Revocations, Roster: c.Roster,
		ReferencePrefix: c.ReferencePrefix, MaxListAge: c.MaxListAge}
}
