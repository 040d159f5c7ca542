// Package sdnotify tells systemd how the daemon is (sd_notify(3)): READY=1
// once it serves, STOPPING=1 as it stops, and the watchdog's pings while
// it works, for a unit of Type=notify with WatchdogSec. Outside systemd
// (no NOTIFY_SOCKET) it does nothing.
package sdnotify

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// The states the daemon sends.
const (
	Ready    = daemon.SdNotifyReady
	Stopping = daemon.SdNotifyStopping
)

// Notify tells systemd the daemon's state. A failure is logged: the
// daemon runs on without systemd's knowing.
func Notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// Watchdog pings systemd's watchdog at half the interval it asked for
// (WATCHDOG_USEC), but only while healthy says the daemon works: a daemon
// that stops working is restarted by systemd instead of pinging on. It
// returns nil when ctx ends, or at once without a watchdog.
func Watchdog(ctx context.Context, log *slog.Logger, healthy func(context.Context) error) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("watchdog settings unreadable", "err", err)
		return nil
	}
	if interval == 0 {
		return nil
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			hctx, cancel := context.WithTimeout(ctx, interval/4)
			err := healthy(hctx)
			cancel()
			if err != nil {
				log.Error("unhealthy: watchdog not pinged", "err", err)
				continue
			}
			Notify(log, daemon.SdNotifyWatchdog)
		}
	}
}
