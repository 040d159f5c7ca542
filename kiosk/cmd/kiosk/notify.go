package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sdNotify tells systemd the daemon's state (sd_notify(3)). Outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func sdNotify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// watchdog pings systemd's watchdog at half the interval it asked for
// (WATCHDOG_USEC), but only while healthy says the daemon works: a daemon
// that stops working is restarted by systemd instead of pinging on.
func watchdog(ctx context.Context, log *slog.Logger, healthy func(context.Context) error) error {
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
			sdNotify(log, daemon.SdNotifyWatchdog)
		}
	}
}
