package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/docketkiosk/checkin-kiosk/devices"
	"github.com/docketkiosk/checkin-kiosk/drivers/display"
	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/printer"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// openDevices opens the hardware c names. Opening touches no device: it
// checks the sources and the pins, and each driver looks for its device
// when it runs.
func (m *Main) openDevices(c Config) (err error) {
	if m.scanner, err = scanner.Open(c.Scanner); err != nil {
		return err
	}
	// config.Pins and panel.Roles[string] are the same struct: the
	// [pins] table, one line name to a part.
	pins, err := panel.ParsePins(panel.Roles[string](c.Pins))
	if err != nil {
		return fmt.Errorf("pins: %w", err)
	}
	if m.panel = m.Panel; m.panel == nil {
		if m.panel, err = panel.Open(c.Panel, pins); err != nil {
			return err
		}
	}
	if c.Display != "" {
		if m.display, err = display.Open(c.Display); err != nil {
			return err
		}
	}
	if c.Printer != "" {
		if m.printer, err = printer.Open(c.Printer); err != nil {
			return err
		}
	}
	return nil
}

// Scan feeds text to the scanner as if scanned. Only the simulated scanner
// ("sim") takes it.
func (m *Main) Scan(ctx context.Context, text string) error {
	err := devices.Feed(ctx, m.scanner, text)
	if errors.Is(err, devices.ErrNotSimulated) {
		return fmt.Errorf("scanner source %q: %w", m.Config.Scanner, err)
	}
	return err
}

// watched are the devices whose state the log follows (the scanner's has
// its own watch, which also tells the flow).
func (m *Main) watched() []devices.Watched {
	ds := []devices.Watched{{Name: "panel", State: func() (string, string) {
		st := m.panel.State()
		return string(st.Condition), st.Reason
	}}}
	if m.display != nil {
		ds = append(ds, devices.Watched{Name: "service display", State: func() (string, string) {
			st := m.display.State()
			return string(st.Condition), st.Reason
		}})
	}
	if m.printer != nil {
		ds = append(ds, devices.Watched{Name: "printer", State: func() (string, string) {
			st := m.printer.State()
			return string(st.Condition), st.Reason
		}})
	}
	return ds
}

// setEnclosureOpen is the tamper switch: the flow goes out of service
// while the enclosure is open, and so do /healthz and the status.
func (m *Main) setEnclosureOpen(open bool) {
	m.enclosureOpen.Store(open)
	m.flow.SetEnclosureOpen(open)
}

// offline reports whether check-ins cannot be sent now: no upstream, or
// the last upload failed.
func (m *Main) offline() bool {
	return m.uploader == nil || m.uploader.Status().LastError != ""
}

// watchOffline shows on the status light whether the kiosk is offline,
// until ctx ends.
func (m *Main) watchOffline(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		m.lights.SetOffline(m.offline())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// displayInfo is what the service display shows: nothing personal.
func (m *Main) displayInfo(ctx context.Context) display.Info {
	i := display.Info{KioskID: m.kioskID, IP: hostIP(), Scanner: string(m.scanner.State().Condition), Upstream: m.upstreamState()}
	if m.staff != nil {
		i.StaffFingerprint = m.staff.Fingerprint()
	}
	if st, err := m.store.Stats(ctx); err == nil {
		i.Pending = int(st.Pending)
		if !st.OldestPending.IsZero() {
			i.Oldest = time.Since(st.OldestPending)
		}
	}
	return i
}

// upstreamState says in a word or two how the upstream is, for the
// technician at the display.
func (m *Main) upstreamState() string {
	if m.uploader == nil {
		return "none set"
	}
	st := m.uploader.Status()
	switch {
	case st.LastError != "":
		return "offline"
	case st.LastSuccess.IsZero():
		return "connecting"
	case st.HeadState != "" && st.HeadState != "in_sync":
		return "online, " + st.HeadState
	}
	return "online"
}

// hostIP is the kiosk's first address that is not loopback, for the
// technician; "" if it has none.
func hostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		if ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	return v6
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

// displayStatus is the service display's state on /api/v1/status: none
// when the kiosk has none.
func displayStatus(source string, d devices.Display) ui.Device {
	if d == nil {
		return ui.Device{State: ui.DeviceNone}
	}
	st := d.State()
	return ui.DeviceOf(source, string(st.Condition), st.Reason)
}

// printerStatus is the receipt printer's state on /api/v1/status: none
// when the kiosk has none.
func printerStatus(source string, d devices.Printer) ui.Device {
	if d == nil {
		return ui.Device{State: ui.DeviceNone}
	}
	st := d.State()
	return ui.DeviceOf(source, string(st.Condition), st.Reason)
}
