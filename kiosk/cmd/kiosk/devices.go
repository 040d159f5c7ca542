package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/docketkiosk/checkin-kiosk/devices"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// Scan feeds text to the scanner as if scanned. Only the simulated scanner
// ("sim") takes it.
func (m *Main) Scan(ctx context.Context, text string) error {
	err := devices.Feed(ctx, m.scanner, text)
	if errors.Is(err, devices.ErrNotSimulated) {
		return fmt.Errorf("scanner source %q: %w", m.Config.Scanner, err)
	}
	return err
}

// scannerStatus is the scanner's state on /api/v1/status.
func scannerStatus(source string, d scanner.Device) ui.Device {
	st := d.State()
	return ui.DeviceOf(source, string(st.Condition), st.Reason)
}

// panelStatus is the panel's state on /api/v1/status.
func panelStatus(source string, d devices.Panel) ui.Device {
	st := d.State()
	return ui.DeviceOf(source, string(st.Condition), st.Reason)
}
