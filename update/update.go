// Package update installs signed releases of the kiosk on the appliance,
// and takes them back: `kiosk update check|apply|rollback|recover|status`
// (kiosk/cmd/kiosk/internal/updatecmd) are its front end, docs/UPDATE.md
// its manual.
//
// A release is a tarball and a manifest (Manifest) signed with the
// release key pinned in config (minisign, Ed25519). Apply goes step by
// step, each a function named for it: verify the manifest (signature,
// arch, version, min_from, not marked bad), download the tarball and check
// its hash, unpack it to /opt/kiosk/releases/.VERSION.tmp checking every
// entry and file, sync, rename it to releases/VERSION, wait until no one
// is using the kiosk, switch the current symlink (a new link renamed over
// it, the directory synced), restart kioskd, and wait for it to answer
// healthy as the new version; else switch back, restart, and mark the
// version bad.
//
// Every phase is written to a journal (State.Last) before it begins, so a
// power cut at any moment leaves current pointing at a complete release
// (the old or the new one), and the next run, or `kiosk update recover`
// from the OnFailure unit, finishes or undoes what was under way
// (Recover). One updater runs at a time: it holds the state directory's
// lock (internal/statedir).
//
// The daemon's SQLite state lives in /var/lib/kiosk, outside the
// releases, and its migrations say which older release can still read it
// (min_reader, sync/internal/sqlitedb), so a rollback finds its data.
//
// It imports nothing of the kiosk but internal/ leaves: the command
// hands it the settings, the service manager (Services) and the daemon
// (Health, Idle).
package update

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
)

// Services restarts a systemd unit: Systemctl on a kiosk, a double that
// records the calls in tests.
type Services interface {
	Restart(ctx context.Context, unit string) error
}

// Health asks the running daemon whether it can take check-ins, and which
// version it is: DaemonClient's GET /healthz on a kiosk. An error is an
// unhealthy (or absent) daemon; an *OutOfServiceError one that answers
// but takes no check-ins, and why.
type Health interface {
	Check(ctx context.Context) (version string, err error)
}

// OutOfServiceError is the answer of a daemon that runs but takes no
// check-ins (/healthz 503, "out_of_service"), with the reason it gives.
// A new release out of service for the reason the old one was, just
// before the switch (an unplugged scanner, an open enclosure), is no
// worse than it: the health gate lets it pass.
type OutOfServiceError struct {
	Version string // the version that answered
	Reason  string // kiosk's reason code: scanner_unavailable, enclosure_open, storage_low...
}

func (e *OutOfServiceError) Error() string { return "out of service: " + e.Reason }

// Idle asks the running daemon which screen it shows, so that no one's
// session is cut short by a restart: DaemonClient's GET /api/v1/status on
// a kiosk. ErrNotRunning when no daemon answers (nothing to interrupt).
type Idle interface {
	Screen(ctx context.Context) (screen string, err error)
}

// Screens during which a restart interrupts no one: waiting for a card,
// or out of service (taking none).
var idleScreens = []string{"idle", "out_of_service"}

// Defaults of Config, and of config's [update] table.
const (
	DefaultHealthTimeout = 90 * time.Second
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultPoll          = time.Second
)

// Config is what an Updater works with. Key, Services and Health are
// required.
type Config struct {
	// Root is the file system's root the layout is below: "/" (the
	// default) on a kiosk, a temporary directory in tests.
	Root string
	// Key is the release public key, minisign's base64 line ("RWQ...")
	// or a whole .pub file (ParsePublicKey).
	Key string
	// Arch is the architecture releases must be built for; default
	// runtime.GOARCH.
	Arch string
	// Client fetches https:// sources; default: one with the system's
	// roots and timeouts to connect and to answer.
	Client   *http.Client
	Services Services
	Health   Health
	// Idle, if not nil, is waited on before a switch (IdleTimeout at most).
	Idle Idle
	// HealthTimeout is how long a restarted daemon has to answer healthy
	// as the version it should run (DefaultHealthTimeout).
	HealthTimeout time.Duration
	// IdleTimeout is how long to wait for the kiosk to be idle before
	// giving up, nothing switched (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Poll is how often the daemon is asked, while waiting (DefaultPoll).
	Poll time.Duration
	// Reserve is the free space to leave on the file systems of the
	// releases and the download: the daemon's disk reserve, so that an
	// update never puts the kiosk out of service for want of room.
	Reserve uint64
	// Progress, if not nil, is told of a download's progress as it goes.
	Progress func(Progress)
	Log      *slog.Logger // default: discard
	Now      func() time.Time
	// Hook, if not nil, is called at each Step: the crash tests stop the
	// process there.
	Hook func(Step)
}

// Step names a moment of an apply or rollback, for Config.Hook.
type Step string

// The steps, in order. A crash at each must leave a bootable, consistent
// kiosk (update's crash tests kill the process at every one).
const (
	StepVerified       Step = "verified"        // manifest verified, nothing written
	StepDownloading    Step = "downloading"     // part of the tarball written
	StepDownloaded     Step = "downloaded"      // tarball whole and hashed
	StepUnpacking      Step = "unpacking"       // a first file written to .VERSION.tmp
	StepUnpackedTmp    Step = "unpacked-tmp"    // .VERSION.tmp complete and synced
	StepReleaseRenamed Step = "release-renamed" // renamed to VERSION, releases/ not yet synced
	StepUnpacked       Step = "unpacked"        // journal: unpacked
	StepIdle           Step = "idle"            // the kiosk is idle
	StepSwitching      Step = "switching"       // journal: switching
	StepSymlink        Step = "symlink"         // current.new made
	StepRenamed        Step = "renamed"         // current.new renamed over current, /opt/kiosk not yet synced
	StepSwitched       Step = "switched"        // /opt/kiosk synced
	StepRestarted      Step = "restarted"       // kioskd restarted onto the new release
	StepHealth         Step = "health"          // health asked once, not yet answered healthy
	StepConfirmed      Step = "confirmed"       // journal: confirmed
	StepRollingBack    Step = "rolling-back"    // journal: rolling back, the version marked bad
	StepBackSymlink    Step = "back-symlink"    // current.new made, back to the old release
	StepBackRenamed    Step = "back-renamed"    // renamed back, /opt/kiosk not yet synced
	StepBackRestarted  Step = "back-restarted"  // kioskd restarted onto the old release
)

// Errors of an apply refused, or failed.
var (
	ErrArch       = errors.New("release is for another architecture")
	ErrDowngrade  = errors.New("release is older than the current one (--allow-downgrade to apply it)")
	ErrMinFrom    = errors.New("current release is older than the release's min_from")
	ErrMarkedBad  = errors.New("release is marked bad (--force to apply it)")
	ErrNotIdle    = errors.New("the kiosk did not become idle")
	ErrNotRunning = errors.New("the daemon is not running")
	ErrUnhealthy  = errors.New("rolled back: the new release did not answer healthy")
	ErrNoPrevious = errors.New("no previous release to roll back to")
	ErrSpace      = errors.New("not enough free space")
)

// Updater applies and rolls back releases below its Config.Root.
type Updater struct {
	cfg          Config
	key          minisign.PublicKey
	l            layout
	client       *http.Client
	log          *slog.Logger
	lastProgress time.Time
}

// New returns an Updater for c, its defaults filled in.
func New(c Config) (*Updater, error) {
	if c.Key == "" {
		return nil, errors.New("no release key: set update.release_key or update.release_key_file")
	}
	key, err := ParsePublicKey(c.Key)
	if err != nil {
		return nil, err
	}
	if c.Services == nil || c.Health == nil {
		return nil, errors.New("update: Services and Health are required")
	}
	if c.Root == "" {
		c.Root = "/"
	}
	if c.Arch == "" {
		c.Arch = runtime.GOARCH
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = DefaultHealthTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	u := &Updater{cfg: c, key: key, l: layout{root: c.Root}, client: c.Client, log: c.Log}
	if u.client == nil {
		u.client = defaultClient()
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	return u, nil
}

// defaultClient fetches releases: a bounded wait to connect and for the
// answer to begin, none for the body (a tarball over a slow link takes
// what it takes; the unit's timeout bounds the whole).
func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}}
}

func (u *Updater) now() time.Time { return u.cfg.Now().UTC() }

func (u *Updater) step(s Step) {
	if u.cfg.Hook != nil {
		u.cfg.Hook(s)
	}
}

// Plan is what an apply of a source would do: the release its manifest
// describes, verified, and whether it would be applied over the current
// one, and if not why.
type Plan struct {
	Manifest *Manifest
	Source   string // the manifest's URL or path
	Current  string // the current release's version
	// Refusal is why the release would not be applied (ErrArch,
	// ErrDowngrade, ErrMinFrom, ErrMarkedBad, wrapped); nil if it would.
	Refusal error
	// UpToDate: the release is the current one; apply does nothing.
	UpToDate bool
}

// ApplyOptions loosen apply's refusals.
type ApplyOptions struct {
	AllowDowngrade bool // apply a version older than the current one
	Force          bool // apply a version marked bad
}

// Check fetches the manifest of src and its signature, verifies both, and
// says what an apply would do; it writes nothing.
func (u *Updater) Check(ctx context.Context, src string, opts ApplyOptions) (*Plan, error) {
	st, err := readState(u.l.state())
	if err != nil {
		return nil, err
	}
	return u.plan(ctx, src, opts, st)
}

// plan is Check with the state in hand.
func (u *Updater) plan(ctx context.Context, src string, opts ApplyOptions, st State) (*Plan, error) {
	s, err := parseSource(src, u.cfg.Arch)
	if err != nil {
		return nil, err
	}
	m, err := u.verifyManifest(ctx, s)
	if err != nil {
		return nil, err
	}
	cur, err := u.l.current()
	if err != nil {
		return nil, err
	}
	p := &Plan{Manifest: m, Source: s.manifest, Current: cur}
	p.Refusal = refusal(m, cur, u.cfg.Arch, opts, st)
	p.UpToDate = p.Refusal == nil && sameVersion(m.Version, cur)
	return p, nil
}

// verifyManifest fetches the manifest of s and its signature and verifies
// them with the release key.
func (u *Updater) verifyManifest(ctx context.Context, s source) (*Manifest, error) {
	sig, err := u.fetch(ctx, s, s.signature(), maxSignature)
	if err != nil {
		return nil, fmt.Errorf("fetch signature: %w", err)
	}
	doc, err := u.fetch(ctx, s, s.manifest, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest: %w", err)
	}
	m, err := VerifyManifest(u.key, doc, sig)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", s.manifest, err)
	}
	m.raw, m.sig = doc, sig
	return m, nil
}

// refusal is why m would not be applied over the current version cur.
func refusal(m *Manifest, cur, arch string, opts ApplyOptions, st State) error {
	v, _ := ParseVersion(m.Version) // Check parsed both
	minFrom, _ := ParseVersion(m.MinFrom)
	c, err := ParseVersion(cur)
	if err != nil {
		return err
	}
	switch {
	case m.Arch != arch:
		return fmt.Errorf("%w: %s, and this kiosk is %s", ErrArch, m.Arch, arch)
	case v.Compare(c) < 0 && !opts.AllowDowngrade:
		return fmt.Errorf("%w: %s < %s", ErrDowngrade, m.Version, cur)
	case c.Compare(minFrom) < 0:
		return fmt.Errorf("%w: %s < %s: apply %s first", ErrMinFrom, cur, m.MinFrom, m.MinFrom)
	case st.IsBad(m.Version) && !opts.Force:
		return fmt.Errorf("%w: %s", ErrMarkedBad, m.Version)
	}
	return nil
}

// Apply applies the release of src: verify, download, unpack, wait for
// idle, switch, restart, health gate; rolled back and marked bad (and an
// error wrapping ErrUnhealthy) if it does not answer healthy in time. A
// release already current is left as it is. An attempt a crash left
// unfinished is recovered first (Recover).
func (u *Updater) Apply(ctx context.Context, src string, opts ApplyOptions) (*Plan, error) {
	lock, err := u.lock()
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := u.recover(ctx); err != nil {
		return nil, fmt.Errorf("recover the last attempt: %w", err)
	}
	st, err := readState(u.l.state())
	if err != nil {
		return nil, err
	}
	p, err := u.plan(ctx, src, opts, st)
	if err != nil {
		return nil, err
	}
	if p.Refusal != nil {
		return p, p.Refusal
	}
	if p.UpToDate {
		u.log.Info("update: up to date", "version", p.Current)
		return p, nil
	}
	if err := u.l.checkBinLink(); err != nil {
		return p, err
	}
	u.step(StepVerified)
	m, from := p.Manifest, p.Current
	st.Last = &Attempt{Kind: KindApply, From: from, To: m.Version, Phase: PhaseDownloading, Started: u.now()}
	if err := u.save(&st); err != nil {
		return p, err
	}
	if err := u.fetchAndUnpack(ctx, src, m); err != nil {
		return p, u.fail(&st, err)
	}
	return p, u.switchOver(ctx, &st)
}

// fetchAndUnpack puts the release m of src in releases/VERSION, complete
// and synced, and keeps its manifest: a release already there that
// matches its manifest is used as it is.
func (u *Updater) fetchAndUnpack(ctx context.Context, src string, m *Manifest) error {
	if _, err := os.Lstat(u.l.release(m.Version)); err == nil {
		if VerifyRelease(u.l.release(m.Version), m) == nil {
			u.log.Info("update: release already unpacked", "version", m.Version)
			return u.saveManifest(m)
		}
		// A directory of that name that is not the release: set it
		// aside, as prune removes one, and unpack again.
		if err := u.remove(m.Version); err != nil {
			return err
		}
	}
	if err := u.checkSpace(m); err != nil {
		return err
	}
	s, err := parseSource(src, u.cfg.Arch)
	if err != nil {
		return err
	}
	tarball, err := u.download(ctx, s, m)
	if err != nil {
		return err
	}
	u.step(StepDownloaded)
	if err := u.unpack(m, tarball); err != nil {
		// Its hash was the manifest's: the release itself is wrong,
		// and fetching it again would not mend it.
		os.Remove(tarball)
		return err
	}
	// The release is on disk: the tarball is not needed again.
	if err := os.Remove(tarball); err != nil {
		u.log.Warn("update: remove download", "err", err)
	}
	u.clearProgress()
	return u.saveManifest(m)
}

// switchOver takes the attempt st.Last, its release unpacked, to its end:
// wait for idle, switch, restart, health gate; confirm, or roll back.
func (u *Updater) switchOver(ctx context.Context, st *State) error {
	a := st.Last
	a.Phase = PhaseUnpacked
	if err := u.save(st); err != nil {
		return err
	}
	u.step(StepUnpacked)
	if err := u.waitIdle(ctx); err != nil {
		return u.fail(st, err)
	}
	u.step(StepIdle)
	a.Phase, a.Baseline = PhaseSwitching, u.baseline(ctx)
	if err := u.save(st); err != nil {
		return err
	}
	u.step(StepSwitching)
	if err := u.switchTo(a.To, StepSymlink, StepRenamed); err != nil {
		// current is one of the two releases, both whole: go back to
		// the old one, as after a failed health check.
		return u.rollBack(ctx, st, err, false)
	}
	u.step(StepSwitched)
	u.log.Info("update: switched", "kind", a.Kind, "from", a.From, "to", a.To)
	if err := u.cfg.Services.Restart(ctx, DaemonUnit); err != nil {
		if ctx.Err() != nil {
			return err // stopped: as below
		}
		return u.rollBack(ctx, st, fmt.Errorf("restart %s: %w", DaemonUnit, err), true)
	}
	u.step(StepRestarted)
	if err := u.gate(ctx, a.To, a.Baseline); err != nil {
		if ctx.Err() != nil {
			// Stopped, not unhealthy: the journal says switching, and
			// the next run (or recover) checks again.
			return err
		}
		return u.rollBack(ctx, st, err, true)
	}
	return u.confirm(st)
}

// confirm ends an attempt whose release answered healthy: it is current,
// the one before it previous; a rollback by hand marks the version it
// left bad, so that the next apply does not bring it back. Old releases
// are pruned.
func (u *Updater) confirm(st *State) error {
	a := st.Last
	if a.Kind == KindRollback {
		st.markBad(a.From, "rolled back by hand", u.now())
	}
	st.Current, st.Previous = a.To, a.From
	a.Phase, a.Error = PhaseConfirmed, ""
	if err := u.save(st); err != nil {
		return err
	}
	u.step(StepConfirmed)
	u.log.Info("update: confirmed", "kind", a.Kind, "version", a.To, "previous", a.From)
	u.prune(st)
	return nil
}

// rollBack ends an attempt whose release failed (why): marked bad unless
// the failure was not its own (a switch that failed), current goes back
// to a.From, kioskd is restarted and must answer healthy as a.From. The
// error returned wraps ErrUnhealthy and why.
func (u *Updater) rollBack(ctx context.Context, st *State, why error, itsFault bool) error {
	if err := u.startRollBack(st, why, itsFault); err != nil {
		return err
	}
	a := st.Last
	if err := u.finishRollBack(ctx, st); err != nil {
		return fmt.Errorf("%w: %s: %w; and the rollback: %w", ErrUnhealthy, a.To, why, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnhealthy, a.To, why)
}

// startRollBack journals the rollback, the version marked bad in the same
// write when it is at fault.
func (u *Updater) startRollBack(st *State, why error, itsFault bool) error {
	a := st.Last
	u.log.Error("update: rolling back", "kind", a.Kind, "from", a.To, "to", a.From, "err", why)
	if itsFault {
		st.markBad(a.To, why.Error(), u.now())
	}
	a.Phase, a.Error = PhaseRollingBack, why.Error()
	if err := u.save(st); err != nil {
		return err
	}
	u.step(StepRollingBack)
	return nil
}

// finishRollBack switches current back to a.From (unless it is there
// already), restarts kioskd and checks it; Recover resumes here. Its
// error says the rollback did not go through: the switch back failed, or
// a.From did not answer healthy either (the journal says so too).
func (u *Updater) finishRollBack(ctx context.Context, st *State) error {
	a := st.Last
	var after error
	if cur, err := u.l.current(); err != nil || cur != a.From {
		after = u.switchTo(a.From, StepBackSymlink, StepBackRenamed)
	}
	if after == nil {
		if err := u.cfg.Services.Restart(ctx, DaemonUnit); err != nil {
			after = fmt.Errorf("restart %s: %w", DaemonUnit, err)
		} else {
			u.step(StepBackRestarted)
			after = u.gate(ctx, a.From, a.Baseline)
		}
	}
	if after != nil && ctx.Err() != nil {
		return after // stopped: the journal still says rolling back
	}
	a.Phase = PhaseRolledBack
	if after != nil {
		a.Error = fmt.Sprintf("%s; and after the rollback to %s: %v", a.Error, a.From, after)
	}
	if err := u.save(st); err != nil {
		return err
	}
	u.log.Warn("update: rolled back", "version", a.From, "left", a.To)
	return after
}

// fail ends an attempt that stopped before its switch: nothing changed.
func (u *Updater) fail(st *State, why error) error {
	st.Last.Phase, st.Last.Error = PhaseFailed, why.Error()
	if err := u.save(st); err != nil {
		return fmt.Errorf("%w (and %w)", why, err)
	}
	u.clearProgress()
	return why
}

// save writes st, its journal's time updated.
func (u *Updater) save(st *State) error {
	if st.Last != nil {
		st.Last.Updated = u.now()
	}
	return writeState(u.l.state(), *st)
}

// baseline returns why the running daemon is out of service before a
// switch, "" if it is not (or does not answer): the one reason the next
// release may share and still pass the health gate.
func (u *Updater) baseline(ctx context.Context) string {
	_, err := u.cfg.Health.Check(ctx)
	var oos *OutOfServiceError
	if errors.As(err, &oos) {
		u.log.Warn("update: the kiosk is out of service before the switch", "reason", oos.Reason)
		return oos.Reason
	}
	return ""
}

// healthy reports whether v, err (an answer of Health.Check) is that of
// version in health: healthy, or out of service only for baseline, the
// reason the release before it had.
func healthy(v string, err error, version, baseline string) bool {
	var oos *OutOfServiceError
	switch {
	case err == nil:
		return sameVersion(v, version)
	case errors.As(err, &oos):
		return baseline != "" && oos.Reason == baseline && sameVersion(oos.Version, version)
	}
	return false
}

// answered returns the version that gave v, err (an answer of
// Health.Check), in service or not; "" when none answered.
func answered(v string, err error) string {
	var oos *OutOfServiceError
	switch {
	case err == nil:
		return v
	case errors.As(err, &oos):
		return oos.Version
	}
	return ""
}

// gate waits, HealthTimeout at most, for the daemon to answer healthy as
// version (or out of service for baseline alone).
func (u *Updater) gate(ctx context.Context, version, baseline string) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.HealthTimeout)
	defer cancel()
	tick := time.NewTicker(u.cfg.Poll)
	defer tick.Stop()
	var last error
	for first := true; ; first = false {
		v, err := u.cfg.Health.Check(ctx)
		if healthy(v, err, version, baseline) {
			return nil
		}
		switch {
		case err == nil:
			last = fmt.Errorf("it runs %q", v)
		case ctx.Err() == nil || last == nil:
			// An answer cut short by the deadline says less than the
			// one before it.
			last = err
		}
		if first {
			u.step(StepHealth)
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return fmt.Errorf("%s not healthy within %s: %w", version, u.cfg.HealthTimeout, last)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// waitIdle waits, IdleTimeout at most, until the daemon shows a screen no
// one is using, or is not running; else ErrNotIdle, naming what it saw.
func (u *Updater) waitIdle(ctx context.Context) error {
	if u.cfg.Idle == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.IdleTimeout)
	defer cancel()
	tick := time.NewTicker(u.cfg.Poll)
	defer tick.Stop()
	var last string
	for {
		screen, err := u.cfg.Idle.Screen(ctx)
		switch {
		case errors.Is(err, ErrNotRunning):
			return nil
		case err == nil && slices.Contains(idleScreens, screen):
			return nil
		case err == nil:
			last = fmt.Sprintf("it showed %q", screen)
		case ctx.Err() == nil || last == "":
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return fmt.Errorf("%w within %s: %s; nothing was switched", ErrNotIdle, u.cfg.IdleTimeout, last)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Rollback switches back to the previous release (State.Previous), as an
// apply would switch to it: after waiting for idle, health-gated, and
// undone if the previous release does not answer healthy. The release
// left is marked bad, so that the next apply does not bring it back
// (apply --force does).
func (u *Updater) Rollback(ctx context.Context) error {
	lock, err := u.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := u.recover(ctx); err != nil {
		return fmt.Errorf("recover the last attempt: %w", err)
	}
	st, err := readState(u.l.state())
	if err != nil {
		return err
	}
	cur, err := u.l.current()
	if err != nil {
		return err
	}
	prev := st.Previous
	if prev == "" || prev == cur {
		return fmt.Errorf("%w: the state names none but %q", ErrNoPrevious, cur)
	}
	if err := u.checkRelease(prev); err != nil {
		return fmt.Errorf("%w: %w", ErrNoPrevious, err)
	}
	if err := u.l.checkBinLink(); err != nil {
		return err
	}
	st.Last = &Attempt{Kind: KindRollback, From: cur, To: prev, Phase: PhaseUnpacked, Started: u.now()}
	return u.switchOver(ctx, &st)
}

// checkRelease checks that releases/version is whole: against its kept
// manifest, verified again; without one (a release the .deb installed),
// that its binary is there.
func (u *Updater) checkRelease(version string) error {
	dir := u.l.release(version)
	m, err := u.loadManifest(version)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(Binary)))
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("release %s: no %s", version, Binary)
		}
		u.log.Warn("update: no manifest kept for the release; only its binary was checked", "version", version)
		return nil
	case err != nil:
		return err
	}
	return VerifyRelease(dir, m)
}

// Recover finishes or undoes the attempt a crash, a power cut or a stop
// left unfinished, as the journal says: before the switch, it is
// aborted (current never changed); while switching, it is confirmed if
// the release current points at answers healthy as the new version, else
// rolled back; while rolling back, the rollback is finished. It does
// nothing after an attempt that ended (the OnFailure unit runs it after
// every failed apply, most of which changed nothing or rolled back
// already), and says whether it did anything.
func (u *Updater) Recover(ctx context.Context) (bool, error) {
	lock, err := u.lock()
	if err != nil {
		return false, err
	}
	defer lock.Close()
	st, err := readState(u.l.state())
	if err != nil {
		return false, err
	}
	if st.Last == nil || st.Last.Phase.Done() {
		u.cleanup()
		return false, nil
	}
	return true, u.recover(ctx)
}

// recover is Recover with the lock held.
func (u *Updater) recover(ctx context.Context) error {
	defer u.cleanup()
	st, err := readState(u.l.state())
	if err != nil {
		return err
	}
	a := st.Last
	if a == nil || a.Phase.Done() {
		return nil
	}
	cur, err := u.l.current()
	if err != nil {
		return err
	}
	u.log.Warn("update: recovering an unfinished attempt", "kind", a.Kind, "from", a.From, "to", a.To, "phase", a.Phase, "current", cur)
	switch a.Phase {
	case PhaseDownloading, PhaseUnpacked:
		// The switch never began: current is From.
		a.Phase, a.Error = PhaseAborted, "interrupted before the switch"
		u.clearProgress()
		return u.save(&st)
	case PhaseSwitching:
		if cur != a.To {
			// The rename did not happen, or did not survive a power
			// cut: From is current. If the daemon was restarted onto
			// To in between, bring it back to what current says.
			if v, err := u.cfg.Health.Check(ctx); !sameVersion(answered(v, err), cur) {
				if err := u.cfg.Services.Restart(ctx, DaemonUnit); err != nil {
					u.log.Warn("update: restart", "err", err)
				}
			}
			a.Phase, a.Error = PhaseAborted, "interrupted during the switch; "+cur+" still current"
			return u.save(&st)
		}
		// Switched: the daemon may run To already (a power cut during
		// the health check) or still From (killed before the restart).
		if v, err := u.cfg.Health.Check(ctx); healthy(v, err, a.To, a.Baseline) {
			return u.confirm(&st)
		}
		if err := u.cfg.Services.Restart(ctx, DaemonUnit); err != nil {
			return u.recoverRollBack(ctx, &st, fmt.Errorf("restart %s: %w", DaemonUnit, err))
		}
		if err := u.gate(ctx, a.To, a.Baseline); err != nil {
			if ctx.Err() != nil {
				return err
			}
			return u.recoverRollBack(ctx, &st, err)
		}
		return u.confirm(&st)
	case PhaseRollingBack:
		return u.finishRollBack(ctx, &st)
	}
	return fmt.Errorf("update state: unknown phase %q", a.Phase)
}

// recoverRollBack rolls back, in recovery, a release that did not answer
// healthy: marked bad, as apply would have. Getting back to a release
// that answers is recovery done; only a rollback that did not go through
// is an error.
func (u *Updater) recoverRollBack(ctx context.Context, st *State, why error) error {
	if err := u.startRollBack(st, why, true); err != nil {
		return err
	}
	return u.finishRollBack(ctx, st)
}

// lock takes the state directory for this process.
func (u *Updater) lock() (*statedir.Dir, error) {
	d, err := statedir.Lock(u.l.state())
	if err != nil {
		return nil, fmt.Errorf("lock the update state: %w", err)
	}
	return d, nil
}

// cleanup removes what a crash may leave: releases being unpacked or
// removed, a stale current.new, a partial download.
func (u *Updater) cleanup() {
	rel := u.l.releases()
	entries, _ := os.ReadDir(rel)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") && (strings.HasSuffix(n, tmpSuffix) || strings.HasSuffix(n, delSuffix)) {
			if err := os.RemoveAll(filepath.Join(rel, n)); err != nil {
				u.log.Warn("update: cleanup", "err", err)
			}
		}
	}
	if err := os.Remove(filepath.Join(u.l.path(OptDir), currentNew)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.log.Warn("update: cleanup", "err", err)
	}
	parts, _ := filepath.Glob(filepath.Join(u.l.state(), downloadDir, "*.part"))
	for _, p := range parts {
		os.Remove(p)
	}
}

// keep is how many releases stay on disk: the current one, the previous
// one, and the newest other good one.
const keep = 3

// prune removes releases beyond keep: never current or previous, the bad
// ones first, then the oldest; and any download left.
func (u *Updater) prune(st *State) {
	if err := os.RemoveAll(filepath.Join(u.l.state(), downloadDir)); err != nil {
		u.log.Warn("update: prune", "err", err)
	}
	entries, err := os.ReadDir(u.l.releases())
	if err != nil {
		u.log.Warn("update: prune", "err", err)
		return
	}
	cur, _ := u.l.current()
	var others []Version
	kept := 0
	names := map[string]string{} // a version's directory, by its canonical name
	for _, e := range entries {
		v, ok := releaseDir(e)
		if !ok {
			continue // not a release: not ours to remove
		}
		if e.Name() == cur || e.Name() == st.Current || e.Name() == st.Previous {
			kept++
			continue
		}
		others = append(others, v)
		names[v.String()] = e.Name()
	}
	// Good ones newest first, then bad ones: the head is kept.
	slices.SortFunc(others, func(a, b Version) int {
		ab, bb := st.IsBad(a.String()), st.IsBad(b.String())
		if ab != bb {
			if ab {
				return +1
			}
			return -1
		}
		return b.Compare(a)
	})
	for i, v := range others {
		if kept+i < keep && !st.IsBad(v.String()) {
			continue
		}
		if err := u.remove(names[v.String()]); err != nil {
			u.log.Warn("update: prune", "version", v.String(), "err", err)
			continue
		}
		u.log.Info("update: removed an old release", "version", v.String())
	}
}

// remove removes releases/version: renamed aside first (.VERSION.del),
// so that a crash never leaves a partial directory under a version's
// name, then its kept manifest.
func (u *Updater) remove(version string) error {
	rel := u.l.releases()
	aside := filepath.Join(rel, "."+version+delSuffix)
	if err := os.RemoveAll(aside); err != nil {
		return fmt.Errorf("remove release %s: %w", version, err)
	}
	if err := os.Rename(u.l.release(version), aside); err != nil {
		return fmt.Errorf("remove release %s: %w", version, err)
	}
	if err := syncDir(rel); err != nil {
		return fmt.Errorf("remove release %s: %w", version, err)
	}
	if err := os.RemoveAll(aside); err != nil {
		return fmt.Errorf("remove release %s: %w", version, err)
	}
	for _, p := range []string{u.manifestPath(version), u.manifestPath(version) + SignatureSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove release %s: %w", version, err)
		}
	}
	return nil
}

// checkSpace refuses a release that would leave less than Reserve free:
// the tarball and the unpacked files, on the releases' file system (the
// download's too, which is likely the same).
func (u *Updater) checkSpace(m *Manifest) error {
	var files int64
	for _, f := range m.Files {
		files += f.Size
	}
	for _, c := range []struct {
		dir  string
		need int64
	}{
		{u.l.releases(), files + m.Tarball.Size},
		{u.l.state(), m.Tarball.Size},
	} {
		free, err := statedir.Free(c.dir)
		if errors.Is(err, errors.ErrUnsupported) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("free space of %s: %w", c.dir, err)
		}
		if free < uint64(c.need)+u.cfg.Reserve {
			return fmt.Errorf("%w in %s: %d bytes free; the release needs %d and %d are kept in reserve",
				ErrSpace, c.dir, free, c.need, u.cfg.Reserve)
		}
	}
	return nil
}

// manifestPath is where the manifest of version is kept.
func (u *Updater) manifestPath(version string) string {
	return filepath.Join(u.l.state(), manifestsDir, version+".manifest.json")
}

// saveManifest keeps m and its signature, as fetched, for the checks of a
// later rollback.
func (u *Updater) saveManifest(m *Manifest) error {
	if err := os.MkdirAll(filepath.Join(u.l.state(), manifestsDir), 0o755); err != nil {
		return fmt.Errorf("keep manifest: %w", err)
	}
	p := u.manifestPath(m.Version)
	if err := atomicfile.Write(p+SignatureSuffix, m.sig, 0o644); err != nil {
		return fmt.Errorf("keep manifest: %w", err)
	}
	if err := atomicfile.Write(p, m.raw, 0o644); err != nil {
		return fmt.Errorf("keep manifest: %w", err)
	}
	return nil
}

// loadManifest reads the kept manifest of version and verifies it again;
// an error wrapping fs.ErrNotExist if none is kept.
func (u *Updater) loadManifest(version string) (*Manifest, error) {
	p := u.manifestPath(version)
	doc, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read kept manifest: %w", err)
	}
	sig, err := os.ReadFile(p + SignatureSuffix)
	if err != nil {
		return nil, fmt.Errorf("read kept manifest: %w", err)
	}
	m, err := VerifyManifest(u.key, doc, sig)
	if err != nil {
		return nil, fmt.Errorf("kept manifest of %s: %w", version, err)
	}
	return m, nil
}

// Status is what `kiosk update status` shows.
type Status struct {
	Current  string    `json:"current"`  // where the current symlink points; "" if nowhere
	State    State     `json:"state"`    // the state file
	Progress *Progress `json:"progress"` // the download under way, or the last one left unfinished
	Releases []string  `json:"releases"` // the release directories on disk, oldest first
}

// ReadStatus reads the status of the updater below root, without the
// lock: what a running apply last wrote.
func ReadStatus(root string) (Status, error) {
	l := layout{root: root}
	var s Status
	s.Current, _ = l.current()
	var err error
	if s.State, err = readState(l.state()); err != nil {
		return s, err
	}
	if s.Progress, err = readProgress(l.state()); err != nil {
		return s, err
	}
	entries, err := os.ReadDir(l.releases())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("read releases: %w", err)
	}
	var dirs []fs.DirEntry
	for _, e := range entries {
		if _, ok := releaseDir(e); ok {
			dirs = append(dirs, e)
		}
	}
	slices.SortFunc(dirs, func(a, b fs.DirEntry) int {
		va, _ := releaseDir(a)
		vb, _ := releaseDir(b)
		return va.Compare(vb)
	})
	for _, e := range dirs {
		s.Releases = append(s.Releases, e.Name())
	}
	return s, nil
}

// releaseDir returns the version of a directory of releases/ that is a
// release: named by its version, as the updater names it ("1.5.0"), or
// with a "v" as the .deb does ("v1.4.0").
func releaseDir(e fs.DirEntry) (Version, bool) {
	v, err := ParseVersion(e.Name())
	if err != nil || !e.IsDir() || (e.Name() != v.String() && e.Name() != "v"+v.String()) {
		return Version{}, false
	}
	return v, true
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return append(b, '\n'), nil
}
