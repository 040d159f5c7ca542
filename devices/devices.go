// Package devices adapts the kiosk's hardware drivers to its check-in flow:
//
//   - the scanner's scans become the flow's Scans (Scans), and its State
//     whether the flow can ask for a card (WatchScanner);
//   - the panel's help button and presence sensor become the flow's
//     actions, its tamper switch the enclosure's state (Actions);
//   - the screen shows on the panel's status light, lamp and buzzer
//     (PanelSink);
//   - a check-in's receipt goes to the printer (Receipts);
//   - the kiosk's state goes to the service display (Display).
//
// The drivers (drivers/...) know nothing of the flow and the flow (kiosk)
// nothing of the drivers; they meet here, through the small interfaces
// below, so that the simulated devices, the real drivers and a test's
// fakes are all the same to the daemon.
//
// Each Run-like function returns, nil, once ctx ends: the daemon's
// errgroup owns them. Like the drivers, they never drop an input the flow
// needs, and a device that fails never stops a check-in that does not
// need it: its failure is its State, on the status.
package devices

import (
	"context"
	"errors"
	"log/slog"
	"sync"
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
	SetStatus(panel.Status) error
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

// Liveness is told when a relay holds an input it has not handed on yet
// (Busy) and when it has (Idle), for the daemon's watchdog: a scan the
// flow never takes stops the watchdog's pings. *liveness.Loop is one.
type Liveness interface {
	Busy()
	Idle()
}

// Scans runs the scanner d and hands each scan to out until ctx ends;
// live (nil: none) sees each scan held.
func Scans(ctx context.Context, d scanner.Device, out chan<- kiosk.Scan, live Liveness) error {
	return relay(ctx, d.Run, out, live, func(s scanner.Scan) (kiosk.Scan, bool) { return kiosk.Scan(s), true })
}

// StatePoll is how often WatchScanner looks at the scanner's State: a
// scanner unplugged is on the screen and the status within this.
const StatePoll = 250 * time.Millisecond

// WatchScanner tells ready whether the scanner d can read a card, at once
// and then on every change of its State, until ctx ends; each change is
// logged, with the driver's reason, for staff. ready is
// kiosk.Flow.SetScannerReady.
func WatchScanner(ctx context.Context, d scanner.Device, ready func(bool), log *slog.Logger) error {
	t := time.NewTicker(StatePoll)
	defer t.Stop()
	var last scanner.State
	for first := true; ; first = false {
		st := d.State()
		if first || st != last {
			switch {
			case st.Condition == scanner.OK && !first:
				log.Info("scanner ready")
			case st.Condition != scanner.OK:
				log.Warn("scanner unavailable", "state", st.Condition, "reason", st.Reason)
			}
			ready(st.Condition == scanner.OK)
			last = st
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Actions runs the panel's inputs d until ctx ends: the help button and
// the presence sensor become actions handed to out (action), the tamper
// switch is told to enclosure (kiosk.Flow.SetEnclosureOpen), which takes
// the kiosk out of service while it is open and logs it.
func Actions(ctx context.Context, d PanelInputs, out chan<- kiosk.Action, enclosure func(open bool)) error {
	return relay(ctx, d.Run, out, nil, func(e panel.Event) (kiosk.Action, bool) {
		switch e {
		case panel.EnclosureOpen:
			enclosure(true)
		case panel.EnclosureShut:
			enclosure(false)
		}
		return action(e)
	})
}

// action maps a panel input to the flow's action: the help button is the
// same request as the help button on screen, presence wakes the page.
func action(e panel.Event) (kiosk.Action, bool) {
	switch e {
	case panel.HelpPressed:
		return kiosk.Action{Name: kiosk.ActionHelp}, true
	case panel.Presence:
		return kiosk.Action{Name: kiosk.ActionPresence}, true
	}
	return kiosk.Action{}, false
}

// relay runs a driver and hands what it sends, through conv, to out; conv
// returns false for an input the flow has no use for. Like the drivers, it
// never drops an input the flow needs: it blocks on out.
func relay[T, U any](ctx context.Context, run func(context.Context, chan<- T) error, out chan<- U, live Liveness, conv func(T) (U, bool)) error {
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
				if live != nil {
					live.Busy()
				}
				select {
				case out <- u:
				case <-ctx.Done():
					return nil
				}
				if live != nil {
					live.Idle()
				}
			}
		}
	})
	return g.Wait()
}

// PanelSink shows the screen on the panel.
//
//   - The status light, for the person at the kiosk: Ready (green) on the
//     idle screen, Offline (amber) there while check-ins cannot be sent,
//     Busy (amber) while someone checks in, Attention (amber) when staff
//     are needed, OutOfService (red). Each has its own blink pattern and
//     its words on the screen: colour is never the only cue.
//   - The lamp, for staff across the room, whenever the kiosk needs a
//     person: see staff, help, out of service, no scanner.
//   - The buzzer as a screen comes up: Success on success (and already
//     checked in: the person is recorded), Refusal on see staff, Call on
//     help. The tones are short and the same for every refusal: they
//     tell a person who cannot read the screen to look at it, not the
//     room why.
//
// Show runs on the flow's goroutine; SetOffline on any.
type PanelSink struct {
	Out PanelOutputs

	mu      sync.Mutex
	last    kiosk.View
	offline bool
}

var _ kiosk.ViewSink = (*PanelSink)(nil)

// Show implements kiosk.ViewSink.
func (p *PanelSink) Show(v kiosk.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = v
	p.apply()
	if !v.Entered() {
		return // the same screen, updated in place (extended, a language, a receipt)
	}
	// A failing output is its driver's to report (State, on the status);
	// the screen still shows, and the flow does not wait.
	switch v.Screen {
	case kiosk.ScreenSuccess, kiosk.ScreenAlready:
		p.Out.Buzz(panel.Success)
	case kiosk.ScreenSeeStaff:
		p.Out.Buzz(panel.Refusal)
	case kiosk.ScreenHelp:
		p.Out.Buzz(panel.Call)
	}
}

// SetOffline says whether check-ins cannot be sent now: the idle light
// turns Offline. It may be called from any goroutine, as often as wanted.
func (p *PanelSink) SetOffline(offline bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.offline == offline {
		return
	}
	p.offline = offline
	if p.last.Screen != "" {
		p.apply()
	}
}

// apply sets the light and the lamp for the last view. Requires mu.
func (p *PanelSink) apply() {
	st, lamp := LightOf(p.last, p.offline)
	p.Out.SetStatus(st)
	p.Out.SetLamp(lamp)
}

// LightOf returns what the status light and the lamp show for the view v,
// offline or not.
func LightOf(v kiosk.View, offline bool) (light panel.Status, lamp bool) {
	switch v.Screen {
	case kiosk.ScreenIdle:
		switch {
		case v.Reason == kiosk.ReasonScannerUnavailable:
			return panel.Attention, true
		case offline:
			return panel.Offline, false
		}
		return panel.Ready, false
	case kiosk.ScreenSeeStaff, kiosk.ScreenHelp:
		return panel.Attention, true
	case kiosk.ScreenOutOfService:
		return panel.OutOfService, true
	}
	return panel.Busy, false // confirm, success, already: someone is at the kiosk
}

// Watched is a device whose state WatchDevices logs: its name, and how to
// read its condition ("ok", "absent"…) and the reason for it.
type Watched struct {
	Name  string
	State func() (condition, reason string)
}

// WatchDevices logs how each device is, at once for those that are not
// ok ("panel absent: no GPIO chip"), and then every change, until ctx
// ends: the log is where staff and the installer read why a light is dark
// or a receipt did not print. It looks every second.
func WatchDevices(ctx context.Context, ds []Watched, log *slog.Logger) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := make([][2]string, len(ds))
	for first := true; ; first = false {
		for i, d := range ds {
			c, r := d.State()
			if now := [2]string{c, r}; first || now != last[i] {
				switch {
				case c != "ok":
					log.Warn(d.Name+" "+c, "reason", r)
				case !first:
					log.Info(d.Name + " ok")
				}
				last[i] = now
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
