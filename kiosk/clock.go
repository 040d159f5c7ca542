package kiosk

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"
)

// ClockState says how far the kiosk's time can be trusted. Every check-in
// record carries it, and staff see it on the status.
type ClockState string

// The clock states.
const (
	// ClockSynced: the system clock is plausible and synchronized (NTP).
	ClockSynced ClockState = "synced"
	// ClockUnsynced: the system clock is plausible but not known to be
	// synchronized; a Pi without an RTC after a boot with no network.
	ClockUnsynced ClockState = "unsynced"
	// ClockImplausible: the system clock is behind the last time the kiosk
	// trusted (or its build date), so it is wrong; that trusted time is
	// used instead, and the time is unverified.
	ClockImplausible ClockState = "implausible"
)

// ClockStore persists the last trusted time across restarts.
type ClockStore interface {
	LoadTrustedTime(ctx context.Context) (time.Time, error)
	SaveTrustedTime(ctx context.Context, t time.Time) error
}

// Clock is the time cards are checked against and check-ins are recorded
// at: max(system clock, last trusted time). A Raspberry Pi has no real-time
// clock, so after a power cut without network its clock may start in the
// past; an expired card must not become valid again because of it.
//
// The last trusted time only moves forward: it is raised by times the kiosk
// has reason to believe — a signed list's issue time, the system clock while
// it is synchronized — and persisted so a restart keeps it. While the system
// clock is implausible, the time is the last trusted time plus the time
// elapsed since it was learnt, measured on the monotonic clock, which no
// setting of the wall clock moves: time keeps passing, so a revocation list
// still grows old.
type Clock struct {
	System    func() time.Time     // nil: time.Now
	Monotonic func() time.Duration // time elapsed since some fixed moment; nil: the process's monotonic clock
	Synced    func() bool          // nil: never known to be synchronized
	// Floor is the earliest plausible time, such as the build date.
	Floor time.Time
	Store ClockStore // nil: the trusted time is not persisted

	mu          sync.Mutex
	trusted     time.Time     // the last trusted time, or zero
	trustedMono time.Duration // Monotonic() when trusted was learnt
	floorMono   *time.Duration
}

// processStart anchors the default monotonic clock.
var processStart = time.Now()

// Load reads the persisted trusted time.
func (c *Clock) Load(ctx context.Context) error {
	if c.Store == nil {
		return nil
	}
	t, err := c.Store.LoadTrustedTime(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.trusted) {
		c.trusted, c.trustedMono = t, c.mono()
	}
	return nil
}

// Now returns the time to use and how far it can be trusted.
func (c *Clock) Now() (time.Time, ClockState) {
	sys := c.system()
	floor := c.now()
	if sys.Before(floor) {
		return floor, ClockImplausible
	}
	if c.Synced != nil && c.Synced() {
		return sys, ClockSynced
	}
	return sys, ClockUnsynced
}

// Trusted returns the last trusted time, or Floor if that is later.
func (c *Clock) Trusted() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Floor.After(c.trusted) {
		return c.Floor
	}
	return c.trusted
}

// now is the last trusted time plus the time elapsed since it was learnt.
func (c *Clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.floorMono == nil {
		m := c.mono()
		c.floorMono = &m
	}
	if c.Floor.After(c.trusted) {
		return c.Floor.Add(c.mono() - *c.floorMono)
	}
	return c.trusted.Add(c.mono() - c.trustedMono)
}

// Advance raises the last trusted time to t, if t is later, and persists
// it. Call it with a time the kiosk has reason to believe.
func (c *Clock) Advance(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if !t.After(c.trusted) {
		c.mu.Unlock()
		return nil
	}
	c.trusted, c.trustedMono = t, c.mono()
	c.mu.Unlock()
	if c.Store == nil {
		return nil
	}
	return c.Store.SaveTrustedTime(ctx, t)
}

// Checkpoint advances the trusted time to the system clock while it is
// synchronized. Run it now and then, so a restart without network starts
// from a recent trusted time.
func (c *Clock) Checkpoint(ctx context.Context) error {
	if t, state := c.Now(); state == ClockSynced {
		return c.Advance(ctx, t)
	}
	return nil
}

// CheckpointInterval is how often Run persists a synchronized clock's
// time as the last trusted time.
const CheckpointInterval = time.Minute

// Run checkpoints the clock at once and then every CheckpointInterval
// until ctx ends, so that a restart without network starts from a recent
// trusted time rather than the build date. A checkpoint that fails is
// logged, and the next one tried.
func (c *Clock) Run(ctx context.Context, log *slog.Logger) error {
	t := time.NewTicker(CheckpointInterval)
	defer t.Stop()
	for {
		if err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			log.Warn("persist trusted time", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SyncedFile returns a Synced that reports whether file exists: how the
// kiosk learns that systemd-timesyncd has synchronized the clock (it
// creates /run/systemd/timesync/synchronized), with no privilege needed.
// "" is nil: never known to be synchronized.
func SyncedFile(file string) func() bool {
	if file == "" {
		return nil
	}
	return func() bool {
		_, err := os.Stat(file)
		return err == nil
	}
}

func (c *Clock) mono() time.Duration {
	if c.Monotonic != nil {
		return c.Monotonic()
	}
	return time.Since(processStart)
}

func (c *Clock) system() time.Time {
	if c.System != nil {
		return c.System()
	}
	return time.Now()
}
