// Package devices adapts the kiosk's hardware drivers to its check-in flow:
// the scanner's scans become the flow's Scans (Scans), the panel's help
// button its help action (Actions), and the screen shows on the panel's
// status light, lamp and buzzer (PanelSink). The drivers (drivers/scanner,
// drivers/panel) know nothing of the flow and the flow (kiosk) nothing of
// the drivers; they meet here, through the small interfaces below, so that
// the simulated devices, the real drivers and a test's fakes are all the
// same to the daemon.
//
// Scans and Actions run a driver's Run on a goroutine of their own and
// return, nil, once ctx ends and it has returned: the daemon's errgroup
// owns them. Like the drivers, they never drop an input the flow needs.
package devices

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// Feeder is a scanner that can be handed text as if scanned: the
// simulated one. POST /api/v1/sim/scan, the demo's typed lines and a
// test's scans go through it, and exist only with it.
type Feeder interface {
	Feed(ctx context.Context, text string) error
}

// PanelInputs raises the panel's events: the help button, the tamper
// switch, the presence sensor.
type PanelInputs interface {
	Run(ctx context.Context, out chan<- panel.Event) error
}

// PanelOutputs are what the kiosk shows on the panel: the status light,
// the lamp for staff and the buzzer.
type PanelOutputs interface {
	SetLight(panel.Light) error
	SetLamp(on bool) error
	Buzz(panel.Tone) error
}

// Panel is the panel as the daemon holds it: its inputs, its outputs and
// its State for the status.
type Panel interface {
	PanelInputs
	PanelOutputs
	State() panel.State
}

var (
	_ Feeder = (*scanner.Sim)(nil)
	_ Panel  = (panel.Device)(nil) // whatever panel.Open returns
	_ Panel  = (*panel.Sim)(nil)
)

// ErrNotSimulated is why a scan cannot be fed to a real scanner.
var ErrNotSimulated = errors.New("not simulated: only a person scanning a card can scan")

// Feed feeds text to the scanner d as if scanned. Only the simulated
// scanner takes it: any other is ErrNotSimulated.
func Feed(ctx context.Context, d scanner.Device, text string) error {
	f, ok := d.(Feeder)
	if !ok {
		return ErrNotSimulated
	}
	return f.Feed(ctx, text)
}

// SimFeed is the feed behind POST /api/v1/sim/scan: nil, and the endpoint
// 404, unless the scanner d is simulated.
func SimFeed(d scanner.Device) func(text string) error {
	f, ok := d.(Feeder)
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

// Scans runs the scanner d and hands each scan to out until ctx ends.
func Scans(ctx context.Context, d scanner.Device, out chan<- kiosk.Scan) error {
	return relay(ctx, d.Run, out, func(s scanner.Scan) (kiosk.Scan, bool) { return kiosk.Scan(s), true })
}

// Actions runs the panel's inputs d and hands the flow the actions they
// ask for (action) until ctx ends.
func Actions(ctx context.Context, d PanelInputs, out chan<- kiosk.Action, log *slog.Logger) error {
	return relay(ctx, d.Run, out, action(log))
}

// action maps panel inputs to flow actions: the help button is the same
// request as the help button on screen. The other inputs are not the
// flow's; the enclosure's are logged, so staff can tell when it was opened.
func action(log *slog.Logger) func(panel.Event) (kiosk.Action, bool) {
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

// PanelSink shows the screen on the panel: the status light for the
// person at the kiosk, the lamp for staff across the room whenever the
// kiosk needs a person, and a call on the buzzer when someone asks for
// help. The buzzer sounds for nothing else: a sound at a refused card
// would tell the room about the person holding it.
type PanelSink struct {
	Out  PanelOutputs
	last kiosk.Screen // Show runs on the flow's goroutine alone
}

var _ kiosk.ViewSink = (*PanelSink)(nil)

// Show implements kiosk.ViewSink.
func (p *PanelSink) Show(v kiosk.View) {
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
	p.Out.SetLight(light)
	p.Out.SetLamp(lamp)
	if v.Screen == kiosk.ScreenHelp && p.last != kiosk.ScreenHelp {
		p.Out.Buzz(panel.Call)
	}
	p.last = v.Screen
}
