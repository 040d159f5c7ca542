package panel_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
)

func TestSim(t *testing.T) {
	p := panel.NewSim()
	if p.Light() != panel.Off {
		t.Errorf("new light = %q; want off", p.Light())
	}
	if err := p.SetLight(panel.Green); err != nil || p.Light() != panel.Green {
		t.Errorf("SetLight(green): light %q, err %v", p.Light(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan panel.Event)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, out) }()
	go p.Press(ctx, panel.HelpPressed)
	if e := <-out; e != panel.HelpPressed {
		t.Errorf("event = %q; want %q", e, panel.HelpPressed)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

func TestSimOutputsAndState(t *testing.T) {
	p := panel.NewSim()
	if p.Lamp() || len(p.Tones()) != 0 {
		t.Errorf("new panel: lamp %v, tones %q; want unlit, none", p.Lamp(), p.Tones())
	}
	if err := p.SetLamp(true); err != nil || !p.Lamp() {
		t.Errorf("SetLamp(true): lamp %v, err %v", p.Lamp(), err)
	}
	if err := p.SetLamp(false); err != nil || p.Lamp() {
		t.Errorf("SetLamp(false): lamp %v, err %v", p.Lamp(), err)
	}
	for range 2 {
		if err := p.Buzz(panel.Call); err != nil {
			t.Errorf("Buzz(call) = %v", err)
		}
	}
	if got, want := p.Tones(), []panel.Tone{panel.Call, panel.Call}; !slices.Equal(got, want) {
		t.Errorf("Tones() = %q; want %q", got, want)
	}

	if got := p.State(); got != (panel.State{Condition: panel.OK}) {
		t.Errorf("new panel's State() = %+v; want ok", got)
	}
	gone := panel.State{Condition: panel.Disconnected, Reason: "open /dev/gpiochip0: no such file or directory"}
	p.SetState(gone)
	if got := p.State(); got != gone {
		t.Errorf("State() = %+v; want %+v", got, gone)
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   panel.Source
	}{
		{"sim", panel.Source{Kind: "sim"}},
		{"gpio:/dev/gpiochip0", panel.Source{Kind: "gpio", Path: "/dev/gpiochip0"}},
		{"gpio:/dev/gpiochip4?", panel.Source{Kind: "gpio", Path: "/dev/gpiochip4"}},
	} {
		got, err := panel.ParseSource(tc.source)
		if err != nil || got != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tc.source, got, err, tc.want)
		}
	}
}

func TestParseSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   string // in the error, after the source it names
	}{
		{"", "empty; want sim or gpio:CHIP"},
		{"Sim", `unknown kind "Sim"; want sim or gpio:CHIP`},
		{"i2c:/dev/i2c-1", `unknown kind "i2c"; want sim or gpio:CHIP`},
		{"sim:", "sim takes no path or options"},
		{"sim?x=1", "sim takes no path or options"},
		{"gpio", "no GPIO chip; want gpio:CHIP"},
		{"gpio:", "no GPIO chip; want gpio:CHIP, e.g. gpio:/dev/gpiochip0"},
		{"gpio:?x=1", "no GPIO chip"},
		{"gpio:gpiochip0", `GPIO chip "gpiochip0" is not absolute`},
		{"gpio:/dev/gpiochip0?light=17", `options "light=17": gpio takes none`},
	} {
		got, err := panel.ParseSource(tc.source)
		want := "panel source " + strconv.Quote(tc.source) + ": " + tc.want
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseSource(%q) = %+v, %v; want an error %q", tc.source, got, err, want)
		}
	}
}

func TestOpen(t *testing.T) {
	d, err := panel.Open("sim")
	if err != nil {
		t.Fatalf(`Open("sim") = %v`, err)
	}
	if _, ok := d.(*panel.Sim); !ok {
		t.Errorf(`Open("sim") = %T; want *panel.Sim`, d)
	}
	d, err = panel.Open("gpio:/dev/gpiochip0")
	want := `panel source "gpio:/dev/gpiochip0": not supported by this build`
	if d != nil || err == nil || err.Error() != want || !errors.Is(err, panel.ErrUnsupported) {
		t.Errorf(`Open("gpio:/dev/gpiochip0") = %v, %v; want ErrUnsupported: %q`, d, err, want)
	}
	d, err = panel.Open("gpio:gpiochip0")
	if d != nil || err == nil || errors.Is(err, panel.ErrUnsupported) || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf(`Open("gpio:gpiochip0") = %v, %v; want an error about the path`, d, err)
	}
}
