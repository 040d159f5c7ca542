package devices

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// fakeScanner is a driver that is not simulated: it takes no fed text.
type fakeScanner struct{}

func (fakeScanner) Run(ctx context.Context, out chan<- scanner.Scan) error {
	<-ctx.Done()
	return nil
}

func (fakeScanner) State() scanner.State { return scanner.State{} }

// Only the simulated scanner takes text as if scanned: for any other,
// POST /api/v1/sim/scan has no feed (a 404) and Feed refuses.
func TestScanFeedOnlySimulated(t *testing.T) {
	if SimFeed(fakeScanner{}) != nil {
		t.Error("SimFeed(a scanner that is not simulated) != nil; want nil, for a 404")
	}
	if err := Feed(context.Background(), fakeScanner{}, "SDC1:ABC"); !errors.Is(err, ErrNotSimulated) {
		t.Errorf("Feed(a scanner that is not simulated) = %v; want ErrNotSimulated", err)
	}

	sim := scanner.NewSim()
	feed := SimFeed(sim)
	if feed == nil {
		t.Fatal("SimFeed(*scanner.Sim) = nil; want a feed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan kiosk.Scan)
	go Scans(ctx, sim, out)
	go feed("SDC1:ABC")
	if got := <-out; got.Text != "SDC1:ABC" {
		t.Errorf("fed %q; scanned %q", "SDC1:ABC", got.Text)
	}
	go Feed(ctx, sim, "SDC1:DEF")
	if got := <-out; got.Text != "SDC1:DEF" {
		t.Errorf("fed %q; scanned %q", "SDC1:DEF", got.Text)
	}
}

// The panel's help button is the flow's help action; the other inputs
// are not the flow's, and Actions hands it nothing for them.
func TestActions(t *testing.T) {
	p := panel.NewSim()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan kiosk.Action)
	done := make(chan error, 1)
	go func() { done <- Actions(ctx, p, out, slog.New(slog.DiscardHandler)) }()
	for _, e := range []panel.Event{panel.EnclosureOpen, panel.PresenceChange, panel.HelpPressed} {
		if err := p.Press(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if a := <-out; a != (kiosk.Action{Name: kiosk.ActionHelp}) {
		t.Errorf("Actions handed %+v first; want the help action, and nothing for the others", a)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Actions() = %v; want nil once ctx ends", err)
	}
}

// PanelSink: each screen's light, the lamp whenever the kiosk needs a
// person, and the buzzer only as someone asks for help: never at a refused
// card, which would tell the room about the person holding it.
func TestPanelSink(t *testing.T) {
	p := panel.NewSim()
	sink := &PanelSink{Out: p}
	for i, tc := range []struct {
		screen kiosk.Screen
		light  panel.Light
		lamp   bool
		tones  int
	}{
		{kiosk.ScreenIdle, panel.Green, false, 0},
		{kiosk.ScreenConfirm, panel.Amber, false, 0},
		{kiosk.ScreenSuccess, panel.Green, false, 0},
		{kiosk.ScreenSeeStaff, panel.Red, true, 0},
		{kiosk.ScreenHelp, panel.Blue, true, 1},
		{kiosk.ScreenHelp, panel.Blue, true, 1}, // the same screen again (extended): no second call
		{kiosk.ScreenIdle, panel.Green, false, 1},
		{kiosk.ScreenHelp, panel.Blue, true, 2},
		{kiosk.ScreenOutOfService, panel.Purple, true, 2},
	} {
		sink.Show(kiosk.View{Rev: uint64(i + 1), Screen: tc.screen})
		if p.Light() != tc.light || p.Lamp() != tc.lamp || len(p.Tones()) != tc.tones {
			t.Errorf("after %d: %s: light %s, lamp %v, %d tones; want %s, %v, %d",
				i, tc.screen, p.Light(), p.Lamp(), len(p.Tones()), tc.light, tc.lamp, tc.tones)
		}
	}
}

// The enclosure's switch is no action of the flow's, but it is logged;
// presence is neither.
func TestActionFromPanel(t *testing.T) {
	var buf bytes.Buffer
	conv := action(slog.New(slog.NewTextHandler(&buf, nil)))
	if a, ok := conv(panel.HelpPressed); !ok || a != (kiosk.Action{Name: kiosk.ActionHelp}) {
		t.Errorf("help pressed = %+v, %v; want the help action", a, ok)
	}
	for _, tc := range []struct {
		e    panel.Event
		logs string
	}{
		{panel.EnclosureOpen, `level=WARN msg="enclosure opened"`},
		{panel.EnclosureShut, `level=INFO msg="enclosure shut"`},
		{panel.PresenceChange, ""},
	} {
		buf.Reset()
		if a, ok := conv(tc.e); ok {
			t.Errorf("%s = %+v; want no action", tc.e, a)
		}
		if got := buf.String(); !strings.Contains(got, tc.logs) || (tc.logs == "" && got != "") {
			t.Errorf("%s logged %q; want %q", tc.e, got, tc.logs)
		}
	}
}
