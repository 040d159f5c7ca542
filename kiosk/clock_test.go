package kiosk_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

type memClock struct{ t time.Time }

func (m *memClock) LoadTrustedTime(context.Context) (time.Time, error) { return m.t, nil }
func (m *memClock) SaveTrustedTime(_ context.Context, t time.Time) error {
	m.t = t
	return nil
}

func TestClock(t *testing.T) {
	ctx := context.Background()
	build := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	sys := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var mono time.Duration // the monotonic clock, which no wall-clock setting moves
	monotonic := func() time.Duration { return mono }
	synced := false
	store := &memClock{}
	c := &kiosk.Clock{
		System:    func() time.Time { return sys },
		Monotonic: monotonic,
		Synced:    func() bool { return synced },
		Floor:     build,
		Store:     store,
	}
	check := func(want time.Time, wantState kiosk.ClockState) {
		t.Helper()
		if got, state := c.Now(); !got.Equal(want) || state != wantState {
			t.Errorf("Now() = %v, %s; want %v, %s", got, state, want, wantState)
		}
	}
	check(sys, kiosk.ClockUnsynced)
	synced = true
	check(sys, kiosk.ClockSynced)
	if err := c.Checkpoint(ctx); err != nil || !store.t.Equal(sys) {
		t.Errorf("Checkpoint() = %v, stored %v; want %v", err, store.t, sys)
	}

	// A power cut: the clock restarts in 1970 and is not synchronized.
	sys, synced = time.Unix(0, 0).UTC(), false
	mono = 5 * time.Second // a new boot
	c2 := &kiosk.Clock{System: func() time.Time { return sys }, Monotonic: monotonic, Floor: build, Store: store}
	if err := c2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got, state := c2.Now(); !got.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) || state != kiosk.ClockImplausible {
		t.Errorf("after restart Now() = %v, %s; want the persisted time, implausible", got, state)
	}
	// Time passes while the clock is wrong: an hour later, the kiosk's time
	// is an hour past the trusted time, so lists still grow old.
	mono += time.Hour
	if got, _ := c2.Now(); !got.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("an hour later Now() = %v; want the trusted time plus an hour", got)
	}
	// Without any persisted time, the build date is the floor.
	c3 := &kiosk.Clock{System: func() time.Time { return sys }, Monotonic: monotonic, Floor: build}
	if got, state := c3.Now(); !got.Equal(build) || state != kiosk.ClockImplausible {
		t.Errorf("Now() = %v, %s; want the build date, implausible", got, state)
	}
	// Advance never goes back.
	later := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c3.Advance(ctx, later)
	c3.Advance(ctx, build)
	if got := c3.Trusted(); !got.Equal(later) {
		t.Errorf("Trusted() = %v; want %v", got, later)
	}
}

// TestClockRun: while the clock is synchronized, Run persists its time at
// once and every CheckpointInterval; while it is not, nothing.
func TestClockRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "synchronized")
		store := &lockedClock{}
		c := &kiosk.Clock{Synced: kiosk.SyncedFile(file), Store: store}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, slog.New(slog.DiscardHandler)) }()
		synctest.Wait()
		if saved := store.saved(); !saved.IsZero() {
			t.Errorf("persisted %v while not synchronized; want nothing", saved)
		}
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(kiosk.CheckpointInterval)
		synctest.Wait()
		if saved, want := store.saved(), time.Now(); !saved.Equal(want) {
			t.Errorf("persisted %v a minute after the clock was synchronized; want %v", saved, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil once ctx ends", err)
		}
	})
	if kiosk.SyncedFile("") != nil {
		t.Error("SyncedFile(\"\") != nil; want nil: never synchronized")
	}
}

// lockedClock is a memClock for a test that reads it while Run writes.
type lockedClock struct {
	mu sync.Mutex
	memClock
}

func (l *lockedClock) SaveTrustedTime(ctx context.Context, t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.memClock.SaveTrustedTime(ctx, t)
}

func (l *lockedClock) saved() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}
