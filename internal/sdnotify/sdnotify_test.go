package sdnotify

import (
	"context"
	"errors"
	"github.com/docketkiosk/checkin-kiosk/internal/sdnotify/sdnotifytest"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchdog runs against a real unixgram NOTIFY_SOCKET, as systemd
// provides it for Type=notify with WatchdogSec: READY=1 is sent, and the
// watchdog is pinged only once the daemon is healthy.
func TestWatchdog(t *testing.T) {
	read := sdnotifytest.Listen(t, 20*time.Millisecond)
	log := slog.New(slog.DiscardHandler)
	Notify(log, Ready)
	if got := read(); got != "READY=1" {
		t.Fatalf("Notify(Ready) sent %q; want READY=1", got)
	}

	var checks atomic.Int32
	healthy := func(context.Context) error {
		if checks.Add(1) <= 2 {
			return errors.New("outbox: disk I/O error")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watchdog(ctx, log, healthy) }()
	if got := read(); got != "WATCHDOG=1" || checks.Load() < 3 {
		t.Errorf("first notification %q after %d health checks; want WATCHDOG=1 only after the third, the first healthy", got, checks.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watchdog() = %v; want nil once ctx ends", err)
	}
}

// Without systemd's watchdog, Watchdog returns at once.
func TestNoWatchdog(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	if err := Watchdog(context.Background(), slog.New(slog.DiscardHandler), nil); err != nil {
		t.Errorf("Watchdog() = %v; want nil", err)
	}
}
