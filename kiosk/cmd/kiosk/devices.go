package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The daemon's hardware is what scanner.Open and panel.Open return for the
// configured sources. Each part of the daemon sees only the little of it
// it uses, through the interfaces below, so the simulated devices, the real
// drivers and a test's fakes are all the same to it.

// scanFeeder is a scanner that can be handed text as if scanned: the
// simulated one. POST /api/v1/sim/scan, the demo's typed lines and
// Main.Scan go through it, and exist only with it.
type scanFeeder interface {
	Feed(ctx context.Context, text string) error
}

// panelInputs raises the panel's events: the help button, the tamper
// switch, the presence sensor.
type panelInputs interface {
	Run(ctx context.Context, out chan<- panel.Event) error
}

// panelOutputs are what the kiosk shows on the panel: the status light,
// the lamp for staff and the buzzer.
type panelOutputs interface {
	SetLight(panel.Light) error
	SetLamp(on bool) error
	Buzz(panel.Tone) error
}

// panelDevice is the panel as Main holds it: its inputs, its outputs and
// its State for the status.
type panelDevice interface {
	panelInputs
	panelOutputs
	State() panel.State
}

var (
	_ scanFeeder  = (*scanner.Sim)(nil)
	_ panelDevice = (panel.Device)(nil) // whatever panel.Open returns
	_ panelDevice = (*panel.Sim)(nil)
)

// errNotSimulated is why a scan cannot be fed to a real scanner.
var errNotSimulated = errors.New("not simulated: only a person scanning a card can scan")

// Scan feeds text to the scanner as if scanned. Only the simulated scanner
// ("sim") takes it.
func (m *Main) Scan(ctx context.Context, text string) error {
	f, ok := m.scanner.(scanFeeder)
	if !ok {
		return fmt.Errorf("scanner source %q: %w", m.Config.Scanner, errNotSimulated)
	}
	return f.Feed(ctx, text)
}

// simFeed is the feed behind POST /api/v1/sim/scan: nil, and the endpoint
// 404, unless the scanner is simulated.
func simFeed(d scanner.Device) func(text string) error {
	f, ok := d.(scanFeeder)
	if !ok {
		return nil
	}
	return func(text string) error {
		// Feed waits for the flow to take the scan; a request is not
		// held longer than this for a flow that does not.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return f.Feed(ctx, text)
	}
}

// relay runs a driver and hands what it sends, through conv, to out; conv
// returns false for an input the flow has no use for. Like the drivers, it
// never drops an input the flow needs: it blocks on out.
func relay[T, U any](ctx context.Context, run func(context.Context, chan<- T) error, out chan<- U, conv func(T) (U, bool)) error {
	in := make(chan T)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return run(ctx, in) })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case v := <-in:
				u, ok := conv(v)
				if !ok {
					continue
				}
				select {
				case out <- u:
				case <-ctx.Done():
					return nil
				}
			}
		}
	})
	return g.Wait()
}

func scanFromDriver(s scanner.Scan) (kiosk.Scan, bool) { return kiosk.Scan(s), true }

// actionFromPanel maps panel inputs to flow actions: the help button is the
// same request as the help button on screen. The other inputs are not the
// flow's; the enclosure's are logged, so staff can tell when it was opened.
func actionFromPanel(log *slog.Logger) func(panel.Event) (kiosk.Action, bool) {
	return func(e panel.Event) (kiosk.Action, bool) {
		switch e {
		case panel.HelpPressed:
			return kiosk.Action{Name: kiosk.ActionHelp}, true
		case panel.EnclosureOpen:
			log.Warn("enclosure opened")
		case panel.EnclosureShut:
			log.Info("enclosure shut")
		}
		return kiosk.Action{}, false
	}
}

// panelSink shows the screen on the panel: the status light for the person
// at the kiosk, the lamp for staff across the room whenever the kiosk
// needs a person, and a call on the buzzer when someone asks for help. The
// buzzer sounds for nothing else: a sound at a refused card would tell the
// room about the person holding it.
type panelSink struct {
	out  panelOutputs
	last kiosk.Screen // Show runs on the flow's goroutine alone
}

func (p *panelSink) Show(v kiosk.View) {
	light, lamp := panel.Green, false
	switch v.Screen {
	case kiosk.ScreenConfirm:
		light = panel.Amber
	case kiosk.ScreenSeeStaff:
		light, lamp = panel.Red, true
	case kiosk.ScreenHelp:
		light, lamp = panel.Blue, true
	case kiosk.ScreenOutOfService:
		light, lamp = panel.Purple, true
	}
	// A failing output is its driver's to report (State, on the status);
	// the screen still shows, and the flow does not wait.
	p.out.SetLight(light)
	p.out.SetLamp(lamp)
	if v.Screen == kiosk.ScreenHelp && p.last != kiosk.ScreenHelp {
		p.out.Buzz(panel.Call)
	}
	p.last = v.Screen
}

// scannerStatus is the scanner's state on /api/v1/status.
func scannerStatus(source string, d scanner.Device) ui.Device {
	st := d.State()
	states := map[scanner.Condition]ui.DeviceState{
		scanner.OK:           ui.DeviceOK,
		scanner.Disconnected: ui.DeviceDisconnected,
		scanner.Fault:        ui.DeviceFault,
		scanner.Absent:       ui.DeviceAbsent,
	}
	return ui.Device{Source: source, State: states[st.Condition], Error: st.Reason}
}

// panelStatus is the panel's state on /api/v1/status.
func panelStatus(source string, d panelDevice) ui.Device {
	st := d.State()
	states := map[panel.Condition]ui.DeviceState{
		panel.OK:           ui.DeviceOK,
		panel.Disconnected: ui.DeviceDisconnected,
		panel.Fault:        ui.DeviceFault,
		panel.Absent:       ui.DeviceAbsent,
	}
	return ui.Device{Source: source, State: states[st.Condition], Error: st.Reason}
}
