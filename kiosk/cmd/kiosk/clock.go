package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
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

// fileExists returns a func that reports whether path exists: how the kiosk
// learns that systemd-timesyncd has synchronized the clock (it creates
// /run/systemd/timesync/synchronized), with no privilege needed.
func fileExists(path string) func() bool {
	if path == "" {
		return nil
	}
	return func() bool {
		_, err := os.Stat(path)
		return err == nil
	}
}

// clockCheckpointInterval is how often a synchronized clock's time is
// persisted as the last trusted time.
const clockCheckpointInterval = time.Minute

// checkpointClock persists the time now and then while the clock is
// synchronized, so a restart without network starts from a recent trusted
// time rather than the build date.
func checkpointClock(ctx context.Context, log *slog.Logger, c *kiosk.Clock) error {
	t := time.NewTicker(clockCheckpointInterval)
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

// outboxCheckpointInterval is how often the outbox is tidied (purged,
// checkpointed) while the kiosk is idle.
const outboxCheckpointInterval = 5 * time.Minute

// checkpointOutbox tidies the outbox now and then, only while the idle
// screen shows: a checkpoint (truncating, once a day) is the one write that
// may take long, and it must never delay a person's commit.
func checkpointOutbox(ctx context.Context, log *slog.Logger, store *outbox.Store, flow *kiosk.Flow) error {
	t := time.NewTicker(outboxCheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if flow.View().Screen != kiosk.ScreenIdle {
			continue
		}
		if err := store.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			log.Warn("outbox checkpoint", "err", err)
		}
	}
}
