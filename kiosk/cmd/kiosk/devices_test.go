package main

import (
	"context"
	"errors"
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

// A source that does not parse, or that this build has no driver for, is
// refused before the daemon opens anything, naming the source.
func TestRunRefusesDeviceSources(t *testing.T) {
	kit := testKit(t)
	for _, tc := range []struct {
		scanner, panel string
		want           string
	}{
		{"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16", "sim",
			`scanner source "evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16": not supported by this build`},
		{"serial:/dev/ttyACM0", "sim", `scanner source "serial:/dev/ttyACM0": not supported by this build`},
		{"sim", "gpio:/dev/gpiochip0", `panel source "gpio:/dev/gpiochip0": not supported by this build`},
		{"evdev:/dev/kiosk-scanner?layout=xx", "sim", `scanner source "evdev:/dev/kiosk-scanner?layout=xx": option layout="xx": want one of us, uk, de, fr`},
		{"sim", "gpio", `panel source "gpio": no GPIO chip`},
	} {
		state := t.TempDir()
		err := startErr(t, kit, state, func(c *Config) { c.Scanner, c.Panel = tc.scanner, tc.panel })
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Run(scanner %q, panel %q) = %v; want %q", tc.scanner, tc.panel, err, tc.want)
		}
		if left, err := os.ReadDir(state); err != nil || len(left) != 0 {
			t.Errorf("Run(scanner %q, panel %q) left %v (%v) in the state directory; want nothing", tc.scanner, tc.panel, left, err)
		}
	}
}

// The panel's help button asks for help as the screen's does: the help
// screen, the light blue, the lamp lit for staff and one call on the
// buzzer.
func TestPanelHelpButton(t *testing.T) {
	m := startKiosk(t, t.TempDir(), testKit(t), "")
	p := m.panel.(*panel.Sim)
	eventually(t, "the ready light", func() bool { return p.Light() == panel.Green })
	if p.Lamp() {
		t.Error("lamp lit at idle; want it out")
	}
	if err := p.Press(context.Background(), panel.HelpPressed); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the help screen", func() bool { return getStatus(t, m).Screen == string(kiosk.ScreenHelp) })
	eventually(t, "the help light", func() bool { return p.Light() == panel.Blue })
	if !p.Lamp() || !slices.Equal(p.Tones(), []panel.Tone{panel.Call}) {
		t.Errorf("help: lamp %v, tones %q; want lit, one call", p.Lamp(), p.Tones())
	}
}
