package devices

import (
	"context"
	"log/slog"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/display"
)

// Display is the service display as the daemon holds it.
type Display interface {
	Show(display.Info) error
	State() display.State
	Close() error // turns it off: a stopped kiosk leaves no old figures on it
}

var _ Display = (display.Device)(nil) // whatever display.Open returns

// DefaultDisplayEvery is how often the service display is redrawn: a
// technician reads it standing at the kiosk, so seconds are fresh enough,
// and each redraw is a few kilobytes on the I²C bus.
const DefaultDisplayEvery = 5 * time.Second

// RunDisplay shows info on d every every (0: DefaultDisplayEvery) until
// ctx ends. A display that fails is its driver's State to report: the
// failure is logged once, and drawing goes on, so a display plugged back
// in shows again.
func RunDisplay(ctx context.Context, d Display, every time.Duration, info func(context.Context) display.Info, log *slog.Logger) error {
	t := time.NewTicker(orDefault(every, DefaultDisplayEvery))
	defer t.Stop()
	failing := false
	for {
		err := d.Show(info(ctx))
		switch {
		case err != nil && !failing:
			log.Warn("service display", "err", err)
		case err == nil && failing:
			log.Info("service display back")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
