package main

import (
	"context"
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
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
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// Config is the daemon's configuration: config.Config, under the name the
// wiring has always used.
type Config = config.Config

// DefaultConfig returns the configuration "kiosk run" starts from, before
// its file and flags.
func DefaultConfig() Config { return config.Default() }

// configFlags registers c's fields on fs: each flag overrides its key of
// the configuration file.
func configFlags(c *Config, fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "`address` of the kiosk page and API (keep it on loopback)")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "`directory` for the outbox and other state")
	fs.StringVar(&c.Scanner, "scanner", c.Scanner, "scanner `source`: sim, serial:PATH[?idle=DURATION], or evdev:PATH with options "+
		"layout (us, uk, de, fr), idle (a duration), grab (true, false), record (16, 24) as a query string: "+
		"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16")
	fs.StringVar(&c.Panel, "panel", c.Panel, "panel `source`: sim, or gpio:CHIP (gpio:/dev/gpiochip0)")
	fs.StringVar(&c.Root, "root", c.Root, "PEM `file` of the root public key the trust and revocation lists are signed with")
	fs.StringVar(&c.Trust, "trust", c.Trust, "signed trust list `file` (required); without --root, PEM issuer certificates or keys trusted without limits (development only)")
	fs.StringVar(&c.Revocations, "revocations", c.Revocations, "signed revocation list `file` (needs --root; none if empty)")
	fs.StringVar(&c.Roster, "roster", c.Roster, "signed roster `file` that resolves reference cards (needs --root and --reference-prefix)")
	fs.StringVar(&c.ReferencePrefix, "reference-prefix", c.ReferencePrefix, "URL `prefix` of reference cards' QR codes")
	fs.DurationVar(&c.MaxListAge, "max-list-age", c.MaxListAge, "how old the revocation list may be (by its issue time) before cards are sent to staff as stale; 0 for no limit")
	fs.StringVar(&c.Upstream, "upstream", c.Upstream, "upstream base `URL` (default: the one `kiosk enroll` kept; check-ins stay queued if none)")
	fs.StringVar(&c.UpstreamCA, "upstream-ca", c.UpstreamCA, "PEM `file` of the upstream's CA (default: the one `kiosk enroll` kept)")
	fs.StringVar(&c.SealKey, "seal-key", c.SealKey, "`file` of the upstream's public seal key, raw or base64 (default: the one `kiosk enroll` kept)")
	fs.StringVar(&c.KioskID, "kiosk-id", c.KioskID, "this kiosk's `name` at the upstream (default: the host name)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log `level`: debug, info, warn, error")
	fs.StringVar(&c.ClockSyncedFile, "clock-synced-file", c.ClockSyncedFile, "`file` that exists while the system clock is synchronized")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "how long acknowledged check-ins are kept before they are purged")
	fs.BoolVar(&c.RecoverCorrupt, "recover-corrupt", c.RecoverCorrupt, "start with an empty outbox if the existing one is corrupt (it is kept aside)")
	fs.DurationVar(&c.ConfirmTimeout, "confirm-timeout", c.ConfirmTimeout, "how long the confirm screen waits for the person")
	fs.DurationVar(&c.ResultTimeout, "result-timeout", c.ResultTimeout, "how long success and see-staff screens stay up")
	fs.DurationVar(&c.HelpTimeout, "help-timeout", c.HelpTimeout, "how long the help screen stays up")
	fs.DurationVar(&c.UploadMinBackoff, "upload-min-backoff", c.UploadMinBackoff, "first retry delay after a failed upload")
	fs.DurationVar(&c.UploadMaxBackoff, "upload-max-backoff", c.UploadMaxBackoff, "longest retry delay between uploads")
	fs.Var((*byteSize)(&c.DiskReserve), "disk-reserve", "free `space` the state directory must keep, or the kiosk goes out of service (bytes, or with KiB, MiB, GiB)")
	fs.DurationVar(&c.StorageCheck, "storage-check", c.StorageCheck, "how often free space is checked")
}

// Main is the daemon. A test can build one with a Config, Run it on port 0
// in a temporary directory with simulated hardware, and Close it.
type Main struct {
	Config Config
	Log    *slog.Logger // nil: text to stderr at Config.LogLevel
	// Listener, if set, is where the kiosk page is served instead of a
	// new listener on Config.Listen; Run takes it over (Close closes it).
	Listener net.Listener

	ln       net.Listener
	lock     *statedir.Dir
	store    *outbox.Store
	flow     *kiosk.Flow
	server   *ui.Server
	uploader *upload.Uploader
	scanner  scanner.Device // Run, State; Feed when simulated (scanFeeder)
	panel    panelDevice
	clock    *kiosk.Clock

	lists      *trust.Lists // the card verifier and notices, swapped when a list is downloaded
	downloader *upload.Downloader

	storageMu  sync.Mutex
	storageErr error // why the outbox cannot take a check-in; nil when it can

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

// ParseFlags sets m.Config from the arguments of "kiosk run": the file
// --config names (config.DefaultPath by default, whose absence means the
// defaults), then each flag given on the command line, over its key. The
// result must pass config.Check. A reload reads both again (m.load).
func (m *Main) ParseFlags(env *Env, name string, args []string) error {
	fs := flag.NewFlagSet("kiosk "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	path := fs.String("config", config.DefaultPath, "TOML `file` of settings (kiosk config default prints one); the flags below override its keys")
	given := m.Config
	configFlags(&given, fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk %s: unexpected argument %q\n", name, fs.Arg(0))
		return errUsage
	}
	named := false
	var set []*flag.Flag
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" {
			named = true
		} else {
			set = append(set, f)
		}
	})
	m.load = func() (Config, error) {
		c, err := loadConfig(*path, named)
		if err != nil {
			return Config{}, err
		}
		// Only the flags given override the file: one left at its
		// default must not undo the file's setting.
		over := flag.NewFlagSet("", flag.ContinueOnError)
		configFlags(&c, over)
		for _, f := range set {
			if err := over.Set(f.Name, f.Value.String()); err != nil {
				return Config{}, fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
		return c, c.Check()
	}
	c, err := m.load()
	if err != nil {
		return err
	}
	m.Config = c
	return nil
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

	// First: a source that is wrong, or that this build has no driver
	// for, is refused before anything is opened or made.
	if m.scanner, err = scanner.Open(c.Scanner); err != nil {
		return err
	}
	if m.panel, err = panel.Open(c.Panel); err != nil {
		return err
	}

	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	// One daemon to a state directory: a second one would share the
	// outbox, and their check-ins would collide on the same seq. (The
	// demo takes it before Run.)
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
	// The upstream's seal key hides the person in every record; the device
	// key signs it. Without a seal key there is no store: the kiosk takes
	// no check-ins before it is enrolled, and makes no key either.
	sealKey, err := enr.SealKey()
	if err != nil {
		return err
	}
	if sealKey == nil {
		if sealKey, err = readSealKey(c.SealKey); err != nil {
			return err
		}
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
	m.clock = &kiosk.Clock{Synced: fileExists(c.ClockSyncedFile), Floor: buildFloor(), Store: m.store}
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
	}
	if c.Upstream != "" {
		client, err := enroll.Client(c.Upstream, c.UpstreamCA, enr, dev, c.KioskID)
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
			URL:        c.Upstream,
			Client:     client,
			Log:        log.With("part", "upload"),
			MinBackoff: c.UploadMinBackoff,
			MaxBackoff: c.UploadMaxBackoff,
		}
		if c.Root != "" { // without a root key, nothing downloaded can be verified
			if err := m.lists.LoadNotices(); err != nil {
				return err
			}
			m.downloader = &upload.Downloader{
				URL:    c.Upstream,
				Client: client,
				Lists:  m.lists,
				Kinds:  listFiles(c).Kinds(),
				Log:    log.With("part", "download"),
			}
		}
	} else {
		log.Warn("no upstream configured: check-ins stay queued")
	}
	m.server = ui.New(ui.Config{
		Views:   m.flow,
		Actions: actions,
		SimScan: simFeed(m.scanner),
		Status:  m.status,
		Log:     log.With("part", "ui"),
	})
	m.flow.Sinks = []kiosk.ViewSink{m.server, &panelSink{out: m.panel}}
	m.checkStorage(ctx) // before the first screen: out of service from the start

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
	g.Go(func() error { return relay(ctx, m.scanner.Run, scans, scanFromDriver) })
	g.Go(func() error { return relay(ctx, m.panel.Run, actions, actionFromPanel(log.With("part", "panel"))) })
	if m.uploader != nil {
		g.Go(func() error { return m.uploader.Run(ctx) })
	}
	if m.downloader != nil {
		g.Go(func() error { return m.downloader.Run(ctx) })
	}
	g.Go(func() error { return watchdog(ctx, log, m.healthy) })
	g.Go(func() error { return checkpointClock(ctx, log, m.clock) })
	g.Go(func() error { return checkpointOutbox(ctx, log, m.store, m.flow) })
	g.Go(func() error { return m.watchStorage(ctx) })

	log.Info("kiosk serving", "addr", m.ln.Addr().String(), "version", versionString())
	sdNotify(log, "READY=1")
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
			sdNotify(m.Log, "STOPPING=1")
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

// watchStorage checks, every StorageCheck and at once after a failed
// commit, whether the outbox can take a check-in, until ctx ends.
func (m *Main) watchStorage(ctx context.Context) error {
	t := time.NewTicker(m.Config.StorageCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.store.Failed():
		}
		m.checkStorage(ctx)
	}
}

// checkStorage asks the outbox whether it can take a check-in, and tells
// the flow and /healthz. While it cannot, the flow takes no card; it comes
// back in service by itself when space returns (the outbox's probe write
// succeeds again).
func (m *Main) checkStorage(ctx context.Context) {
	err := m.store.Health(ctx)
	if ctx.Err() != nil {
		return // shutting down: says nothing of the disk
	}
	m.storageMu.Lock()
	was := m.storageErr
	m.storageErr = err
	m.storageMu.Unlock()
	switch {
	case err != nil && (was == nil || err.Error() != was.Error()):
		m.Log.Error("outbox cannot take check-ins: out of service", "err", err)
	case err == nil && was != nil:
		m.Log.Info("outbox can take check-ins again: back in service")
	}
	m.flow.SetOutOfService(storageReason(err))
}

// storageReason is the out-of-service reason for a storage error, "" for
// none.
func storageReason(err error) kiosk.Reason {
	var low *outbox.LowSpaceError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &low):
		return kiosk.ReasonStorageLow
	default:
		return kiosk.ReasonRecordFailed
	}
}

// service is what /api/v1/status and /healthz say of taking check-ins.
func (m *Main) service() ui.Service {
	m.storageMu.Lock()
	err := m.storageErr
	m.storageMu.Unlock()
	if err == nil {
		return ui.Service{State: ui.InService}
	}
	return ui.Service{State: ui.OutOfService, Reason: storageReason(err), Error: err.Error()}
}

// Addr returns the address the kiosk page is served on, once Run returned.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// healthy reports whether the daemon can take check-ins.
func (m *Main) healthy(ctx context.Context) error {
	_, err := m.store.Stats(ctx)
	return err
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
		Outbox: ui.Outbox{Pending: st.Pending, UploadedTotal: st.Uploaded, LastUpload: st.LastUpload,
			Quarantined: st.Quarantined},
		Clock: ui.Clock{Trusted: m.clock.Trusted()},
	}
	now, state := m.clock.Now()
	s.Clock.State = state
	s.Lists = listsStatus(m.lists.Status(now))
	if m.uploader != nil {
		us := m.uploader.Status()
		s.Upload = ui.Upload{LastAttempt: us.LastAttempt, LastError: us.LastError,
			LastHeartbeat: us.LastHeartbeat, HeadState: us.HeadState}
	}
	if err := m.store.LastError(); err != nil {
		s.Outbox.LastError = err.Error()
	}
	return s, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func runCommand(ctx context.Context, env *Env, args []string) error {
	m := NewMain()
	if err := m.ParseFlags(env, "run", args); err != nil {
		return err
	}
	// SIGHUP (systemctl reload) reloads the configuration. Caught before
	// Run: its default is to end the process, and one sent while the
	// daemon starts is kept for when it has started.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := m.Run(ctx); err != nil {
		return err
	}
	// The daemon runs until ctx ends (nil) or a part fails (its error);
	// either way, stop everything before exiting.
	err := m.waitReloading(ctx, hup)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// readSealKey reads the upstream's public seal key from file: the raw
// 32-byte X25519 key, or it in standard base64. "" is no key: an error, as
// the outbox cannot be opened without one.
func readSealKey(file string) (hpke.PublicKey, error) {
	if file == "" {
		return nil, errors.New("no seal key: enroll the kiosk (kiosk enroll) or pass --seal-key")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read seal key: %w", err)
	}
	if block, _ := pem.Decode(b); block != nil {
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("seal key %s: this is the upstream's private key (%s); "+
				"--seal-key wants its public key (%s), and the private key must never leave the upstream", file, block.Type, sealKeyWanted)
		}
		return nil, fmt.Errorf("seal key %s: a PEM %s; --seal-key wants %s", file, block.Type, sealKeyWanted)
	}
	if len(b) != 32 { // not raw: base64 text
		if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil {
			b = d
		}
	}
	k, err := wire.ParseSealPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: not an X25519 public key (%v); --seal-key wants %s", file, err, sealKeyWanted)
	}
	return k, nil
}

// sealKeyWanted says what --seal-key takes, and where to find it.
const sealKeyWanted = "the upstream's public seal key: 32 bytes, raw or in base64, " +
	"as `kiosk upstream` prints it at start (`kiosk enroll` fetches it by itself)"

// byteSize is a flag of a number of bytes: plain, or with a binary unit
// (KiB, MiB, GiB), as "64MiB".
type byteSize uint64

func (b *byteSize) String() string { return config.FormatSize(uint64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := config.ParseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}
