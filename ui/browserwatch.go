package ui

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// BrowserRestartFile is the file, in the daemon's runtime directory
// (systemd's RuntimeDirectory=kiosk: /run/kiosk), whose change asks
// systemd to restart the browser: kiosk-browser-restart.path watches it
// and starts kiosk-browser-restart.service, which restarts
// kiosk-browser.service. The daemon needs no privilege and no D-Bus for
// it, only its own directory.
const BrowserRestartFile = "browser-restart"

// The browser watchdog's defaults.
const (
	// DefaultBrowserGrace is how long after the daemon starts a browser
	// may take to connect its first page before the watchdog asks for a
	// restart: Chromium's cold start on a Pi is some 10–20 s.
	DefaultBrowserGrace = 90 * time.Second
	// DefaultBrowserCheck is how often the watchdog looks, and so the
	// least time between two requests: kiosk-browser-restart.service
	// holds 20 s after each restart, and merges requests meanwhile.
	DefaultBrowserCheck = 30 * time.Second
)

// BrowserWatchdog asks for the browser to be restarted while the kiosk
// page is silent: not_responding (a hung renderer, the classic kiosk
// failure, or a browser gone), or none for longer than Grace after start
// (a browser that never loaded the page). It asks again at every check
// while the page stays silent, and says so in the log once per outage.
type BrowserWatchdog struct {
	Browser func() BrowserState // Server.Browser
	// Restart asks for the restart; RestartFile(path) is the appliance's.
	Restart func() error
	Grace   time.Duration // 0: DefaultBrowserGrace
	Check   time.Duration // 0: DefaultBrowserCheck
	Log     *slog.Logger  // nil: discard
	Now     func() time.Time
}

// Run watches until ctx ends, and returns nil.
func (w *BrowserWatchdog) Run(ctx context.Context) error {
	now := w.Now
	if now == nil {
		now = time.Now
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	grace, every := w.Grace, w.Check
	if grace <= 0 {
		grace = DefaultBrowserGrace
	}
	if every <= 0 {
		every = DefaultBrowserCheck
	}
	start := now()
	t := time.NewTicker(every)
	defer t.Stop()
	silent := false // in an outage the log has told of
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		b := w.Browser()
		dead := b.State == BrowserNotResponding || b.State == BrowserNone && now().Sub(start) > grace
		if !dead {
			if silent {
				log.Info("browser responding again")
			}
			silent = false
			continue
		}
		if !silent {
			log.Warn("browser not responding: restart requested", "state", b.State, "pages", b.Pages, "last_heartbeat", b.LastHeartbeat)
		}
		silent = true
		if err := w.Restart(); err != nil {
			log.Error("request a browser restart", "err", err)
		}
	}
}

// RestartFile returns a Restart that writes the time to path: a change
// systemd's path unit sees (PathChanged= fires when the file is closed
// after writing).
func RestartFile(path string) func() error {
	return func() error {
		b := []byte(time.Now().UTC().Format(time.RFC3339Nano) + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("request browser restart: %w", err)
		}
		return nil
	}
}
