package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/devices"
	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The status reports what the drivers say of their devices, not that they
// are configured: a scanner that fails and a panel unplugged show as such,
// with the reason, and as ok again once they are.
func TestStatusReportsDeviceState(t *testing.T) {
	m := startKiosk(t, t.TempDir(), testKit(t), "")
	status := func() ui.Status {
		var s ui.Status
		getJSON(t, "http://"+m.Addr()+"/api/v1/status", &s)
		return s
	}
	if s := status(); s.Scanner != (ui.Device{Source: "sim", State: ui.DeviceOK}) || s.Panel != (ui.Device{Source: "sim", State: ui.DeviceOK}) {
		t.Errorf("status: scanner %+v, panel %+v; want both sim and ok", s.Scanner, s.Panel)
	}
	// The disk, for staff: the state directory's free space and the reserve.
	if s := status(); s.Storage.FreeBytes == 0 || s.Storage.ReserveBytes != DefaultConfig().DiskReserve {
		t.Errorf("status storage %+v; want the free space and the reserve %d", s.Storage, DefaultConfig().DiskReserve)
	}

	sc := m.scanner.(*scanner.Sim)
	p := m.panel.(*panel.Sim)
	sc.SetState(scanner.State{Condition: scanner.Fault, Reason: "read /dev/input/event3: input/output error"})
	p.SetState(panel.State{Condition: panel.Disconnected, Reason: "gpiochip0 gone"})
	s := status()
	if want := (ui.Device{Source: "sim", State: ui.DeviceFault, Error: "read /dev/input/event3: input/output error"}); s.Scanner != want {
		t.Errorf("status scanner = %+v; want %+v", s.Scanner, want)
	}
	if want := (ui.Device{Source: "sim", State: ui.DeviceDisconnected, Error: "gpiochip0 gone"}); s.Panel != want {
		t.Errorf("status panel = %+v; want %+v", s.Panel, want)
	}

	sc.SetState(scanner.State{Condition: scanner.Absent})
	p.SetState(panel.State{Condition: panel.OK})
	s = status()
	if s.Scanner.State != ui.DeviceAbsent || s.Panel != (ui.Device{Source: "sim", State: ui.DeviceOK}) {
		t.Errorf("status: scanner %+v, panel %+v; want scanner absent, panel ok", s.Scanner, s.Panel)
	}
}

// fakeScanner is a driver that is not simulated: it takes no fed text.
type fakeScanner struct{ state scanner.State }

func (f fakeScanner) Run(ctx context.Context, out chan<- scanner.Scan) error {
	<-ctx.Done()
	return nil
}

func (f fakeScanner) State() scanner.State { return f.state }

// Every device state a driver reports has its name on the status; one the
// status does not know reads as unknown, never as ok.
func TestDeviceStatus(t *testing.T) {
	for _, tc := range []struct {
		state scanner.State
		want  ui.Device
	}{
		{scanner.State{Condition: scanner.OK}, ui.Device{Source: "s", State: ui.DeviceOK}},
		{scanner.State{Condition: scanner.Disconnected}, ui.Device{Source: "s", State: ui.DeviceDisconnected}},
		{scanner.State{Condition: scanner.Fault, Reason: "why"}, ui.Device{Source: "s", State: ui.DeviceFault, Error: "why"}},
		{scanner.State{Condition: scanner.Absent}, ui.Device{Source: "s", State: ui.DeviceAbsent}},
		{scanner.State{}, ui.Device{Source: "s"}},
		{scanner.State{Condition: "smoking"}, ui.Device{Source: "s"}},
	} {
		if got := scannerStatus("s", fakeScanner{tc.state}); got != tc.want {
			t.Errorf("scannerStatus(%+v) = %+v; want %+v", tc.state, got, tc.want)
		}
	}
	for _, tc := range []struct {
		state panel.State
		want  ui.Device
	}{
		{panel.State{Condition: panel.OK}, ui.Device{Source: "p", State: ui.DeviceOK}},
		{panel.State{Condition: panel.Disconnected, Reason: "gone"}, ui.Device{Source: "p", State: ui.DeviceDisconnected, Error: "gone"}},
		{panel.State{Condition: panel.Fault, Reason: "why"}, ui.Device{Source: "p", State: ui.DeviceFault, Error: "why"}},
		{panel.State{Condition: panel.Absent}, ui.Device{Source: "p", State: ui.DeviceAbsent}},
		{panel.State{}, ui.Device{Source: "p"}},
	} {
		p := panel.NewSim()
		p.SetState(tc.state)
		if got := panelStatus("p", p); got != tc.want {
			t.Errorf("panelStatus(%+v) = %+v; want %+v", tc.state, got, tc.want)
		}
	}
}

// Only the simulated scanner takes text as if scanned: for any other,
// Main.Scan refuses, naming the source. (devices tests the feed itself.)
func TestScanFeedOnlySimulated(t *testing.T) {
	m := &Main{Config: Config{Scanner: "evdev:/dev/kiosk-scanner"}, scanner: fakeScanner{}}
	err := m.Scan(context.Background(), "SDC1:ABC")
	if want := `scanner source "evdev:/dev/kiosk-scanner": not simulated`; err == nil || !strings.HasPrefix(err.Error(), want) ||
		!errors.Is(err, devices.ErrNotSimulated) {
		t.Errorf("Main.Scan on a real scanner = %v; want %q...", err, want)
	}
}

// A source that does not parse, or a pin that is no pin, is refused
// before the daemon opens anything, naming the source or the key.
func TestRunRefusesDeviceSources(t *testing.T) {
	kit := testKit(t)
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"layout", func(c *Config) { c.Scanner = "evdev:/dev/kiosk-scanner?layout=xx" },
			`scanner source "evdev:/dev/kiosk-scanner?layout=xx": option layout="xx": want one of us, uk, de, fr`},
		{"serial option", func(c *Config) { c.Scanner = "serial:/dev/ttyACM0?term=etx" },
			`scanner source "serial:/dev/ttyACM0?term=etx": option term="etx"`},
		{"no chip", func(c *Config) { c.Panel = "gpio" }, `panel source "gpio": no GPIO chip`},
		{"pin", func(c *Config) { c.Pins.Help = "GPIO5:active-sideways" }, `pins: help: panel pin "GPIO5:active-sideways"`},
		{"display", func(c *Config) { c.Display = "i2c:/dev/i2c-1?addr=0x99" }, `display source "i2c:/dev/i2c-1?addr=0x99": `},
		{"printer", func(c *Config) { c.Printer = "lp:usb/lp0" }, `printer source "lp:usb/lp0": `},
	} {
		state := t.TempDir()
		err := startErr(t, kit, state, tc.set)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: Run() = %v; want %q...", tc.name, err, tc.want)
		}
		if left, err := os.ReadDir(state); err != nil || len(left) != 0 {
			t.Errorf("%s: Run() left %v (%v) in the state directory; want nothing", tc.name, left, err)
		}
	}
}

// Real drivers whose devices this machine lacks: the kiosk starts, says
// so on the status and to /healthz, offers staff on its idle screen, and
// comes back to service when the scanner does (here: never; the sources
// are real, the devices absent).
func TestRunWithAbsentDevices(t *testing.T) {
	dir := t.TempDir()
	m := startKiosk(t, dir, testKit(t), "", func(c *Config) {
		c.Scanner = "evdev:" + dir + "/no-scanner?grab=false"
		c.Panel = "gpio:/dev/gpiochip0"
		c.Display = "i2c:/dev/i2c-1"
		c.Printer = "lp:" + dir + "/no-printer"
	})
	eventually(t, "the idle screen offering staff", func() bool {
		v := m.flow.View()
		return v.Screen == kiosk.ScreenIdle && v.Reason == kiosk.ReasonScannerUnavailable
	})
	var s ui.Status
	getJSON(t, "http://"+m.Addr()+"/api/v1/status", &s)
	for name, d := range map[string]ui.Device{"scanner": s.Scanner, "panel": s.Panel, "display": s.Display, "printer": s.Printer} {
		if d.State != ui.DeviceAbsent || d.Error == "" {
			t.Errorf("status %s = %+v; want absent, with why", name, d)
		}
	}
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Status, Reason, Error string }
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || h.Reason != string(kiosk.ReasonScannerUnavailable) || !strings.HasPrefix(h.Error, "scanner absent") {
		t.Errorf("/healthz = %d %+v; want 503, scanner_unavailable, scanner absent: why", resp.StatusCode, h)
	}
}

// The panel's help button asks for help as the screen's does: the help
// screen, the light calling for attention, the lamp lit for staff and one
// call on the buzzer. (No upstream: the idle light says offline.)
func TestPanelHelpButton(t *testing.T) {
	m := startKiosk(t, t.TempDir(), testKit(t), "")
	p := m.panel.(*panel.Sim)
	eventually(t, "the offline light", func() bool { return p.Status() == panel.Offline })
	if p.Lamp() {
		t.Error("lamp lit at idle; want it out")
	}
	if err := p.Press(context.Background(), panel.HelpPressed); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the help screen", func() bool { return getStatus(t, m).Screen == string(kiosk.ScreenHelp) })
	eventually(t, "the help light", func() bool { return p.Status() == panel.Attention })
	if !p.Lamp() || !slices.Equal(p.Tones(), []panel.Tone{panel.Call}) {
		t.Errorf("help: lamp %v, tones %q; want lit, one call", p.Lamp(), p.Tones())
	}
}
