package panel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
)

func TestSim(t *testing.T) {
	p := panel.NewSim()
	if p.Status() != panel.Dark {
		t.Errorf("new status = %q; want dark", p.Status())
	}
	if err := p.SetStatus(panel.Ready); err != nil || p.Status() != panel.Ready {
		t.Errorf("SetStatus(ready): status %q, err %v", p.Status(), err)
	}
	if err := p.SetStatus("green"); err == nil || p.Status() != panel.Ready {
		t.Errorf(`SetStatus("green"): status %q, err %v; want an error and ready kept`, p.Status(), err)
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
	if err := p.Buzz("beep"); err == nil {
		t.Errorf(`Buzz("beep") = nil; want an error`)
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

// TestPatterns checks the tables' promises: every status and tone has a
// pattern; no two statuses look alike, even to someone who cannot tell the
// colours apart; no light flashes more than twice a second; the tones
// differ and end.
func TestPatterns(t *testing.T) {
	rhythms := map[string]panel.Status{}
	for _, s := range panel.Statuses {
		p, ok := s.Pattern()
		if !ok {
			t.Errorf("%s.Pattern() unknown", s)
			continue
		}
		var cycle time.Duration
		flashes := 0
		for i, st := range p.Steps {
			cycle += st.For
			if st.On && (i == 0 || !p.Steps[i-1].On) {
				flashes++
			}
		}
		if cycle > 0 && time.Duration(flashes)*time.Second > 2*cycle {
			t.Errorf("%s: %d flashes every %v; want at most 2 a second", s, flashes, cycle)
		}
		rhythm := fmt.Sprint(p.Steps)
		if other, ok := rhythms[rhythm]; ok {
			t.Errorf("%s blinks as %s does: %v", s, other, p)
		}
		rhythms[rhythm] = s
	}
	if p, _ := panel.Dark.Pattern(); p.String() != "off" {
		t.Errorf("Dark.Pattern() = %v; want off", p)
	}
	if p, _ := panel.Ready.Pattern(); p.String() != "green: steady" {
		t.Errorf("Ready.Pattern() = %v; want green: steady", p)
	}
	if p, _ := panel.OutOfService.Pattern(); p.Colour != panel.Red {
		t.Errorf("OutOfService.Pattern() = %v; want red", p)
	}
	for _, s := range []panel.Status{panel.Busy, panel.Offline, panel.Attention} {
		if p, _ := s.Pattern(); p.Colour != panel.Amber {
			t.Errorf("%s.Pattern() = %v; want amber", s, p)
		}
	}
	if _, ok := panel.Status("blue").Pattern(); ok {
		t.Error(`Status("blue").Pattern() known`)
	}

	sounds := map[string]panel.Tone{}
	for _, tone := range panel.Tones {
		p, ok := tone.Pattern()
		if !ok || len(p.Steps) == 0 || p.Colour != "" {
			t.Errorf("%s.Pattern() = %v, %v; want steps and no colour", tone, p, ok)
		}
		for _, st := range p.Steps {
			if st.For <= 0 {
				t.Errorf("%s: step %+v never ends", tone, st)
			}
		}
		if other, ok := sounds[p.String()]; ok {
			t.Errorf("%s sounds as %s does: %v", tone, other, p)
		}
		sounds[p.String()] = tone
	}

	// The tables are data the callers read, not change.
	p, _ := panel.Busy.Pattern()
	p.Steps[0].For = time.Hour
	if q, _ := panel.Busy.Pattern(); q.Steps[0].For == time.Hour {
		t.Error("changing a Pattern's steps changed the table")
	}
}

func TestParsePin(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want panel.Pin
		err  string // in the error, "" for none
	}{
		{"", panel.Pin{}, ""},
		{"GPIO17", panel.Pin{Name: "GPIO17"}, ""},
		{"GPIO17:active-low", panel.Pin{Name: "GPIO17", ActiveLow: true}, ""},
		{"GPIO17:active-high", panel.Pin{Name: "GPIO17"}, ""},
		{":active-low", panel.Pin{}, `panel pin ":active-low": no line name`},
		{"GPIO 17", panel.Pin{}, `panel pin "GPIO 17": space in the line name`},
		{"GPIO17:low", panel.Pin{}, `panel pin "GPIO17:low": unknown "low"; want active-low or active-high`},
		{"GPIO17:active-low:x", panel.Pin{}, `unknown "active-low:x"`},
	} {
		got, err := panel.ParsePin(tc.s)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParsePin(%q) = %+v, %v; want %+v, %q", tc.s, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParsePin checks that a pin ParsePin takes reads back the same from
// its String. go test runs its seeds; fuzz longer with
// go test -fuzz FuzzParsePin -fuzztime 1m ./drivers/panel.
func FuzzParsePin(f *testing.F) {
	for _, s := range []string{"", "GPIO17", "GPIO4:active-low", "GPIO4:active-high", ":", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := panel.ParsePin(s)
		if err != nil {
			return
		}
		q, err := panel.ParsePin(p.String())
		if err != nil || q != p {
			t.Errorf("ParsePin(%q) = %+v; its String %q reads back as %+v, %v", s, p, p.String(), q, err)
		}
	})
}

func TestOpen(t *testing.T) {
	d, err := panel.Open("sim", panel.Pins{Green: panel.Pin{Name: "GPIO17"}})
	if err != nil {
		t.Fatalf(`Open("sim") = %v`, err)
	}
	if _, ok := d.(*panel.Sim); !ok {
		t.Errorf(`Open("sim") = %T; want *panel.Sim`, d)
	}
	d, err = panel.Open("gpio:gpiochip0", panel.Pins{})
	if d != nil || err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf(`Open("gpio:gpiochip0") = %v, %v; want an error about the path`, d, err)
	}
}

// TestOpenNoGPIO opens the panel on this machine, which has no GPIO chip
// (a PC, CI): the panel is absent, with the reason, and does nothing until
// its context ends. Nothing about it is an error.
func TestOpenNoGPIO(t *testing.T) {
	if chips, _ := filepath.Glob("/dev/gpiochip*"); len(chips) > 0 {
		t.Skipf("this machine has GPIO chips (%s): no absent panel to see", strings.Join(chips, ", "))
	}
	d, err := panel.Open("gpio:/dev/gpiochip0", panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Help: panel.Pin{Name: "GPIO22", ActiveLow: true}})
	if err != nil {
		t.Fatalf("Open() = %v; want an absent panel", err)
	}
	st := d.State()
	if st.Condition != panel.Absent || !strings.HasPrefix(st.Reason, "no GPIO chip: ") {
		t.Errorf("State() = %+v; want absent, the reason beginning %q", st, "no GPIO chip: ")
	}
	t.Logf("State() = %+v", st)
	checkAbsent(t, d)
}

// checkAbsent checks that the absent panel d takes every output without
// an error, refuses an unknown status, and runs until ctx ends.
func checkAbsent(t *testing.T, d panel.Device) {
	t.Helper()
	for _, err := range []error{d.SetStatus(panel.Ready), d.Buzz(panel.Call), d.SetLamp(true)} {
		if err != nil {
			t.Errorf("an absent panel's output = %v; want nil", err)
		}
	}
	if err := d.SetStatus("blue"); err == nil {
		t.Errorf(`SetStatus("blue") = nil; want an error`)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, make(chan panel.Event)) }()
	select {
	case err := <-done:
		t.Fatalf("Run() = %v before its context ended", err)
	case <-time.After(10 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

func TestOpenBoard(t *testing.T) {
	board := map[string]gpio.PinIO{}
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22"} {
		board[n] = &gpiotest.Pin{N: n}
	}
	d, err := panel.OpenBoard("gpio:/dev/gpiochip0", panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Help: panel.Pin{Name: "GPIO22", ActiveLow: true}}, board)
	if err != nil || d.State() != (panel.State{Condition: panel.OK}) {
		t.Fatalf("OpenBoard() = %v, %v; want a panel, OK", d, err)
	}
	if err := d.SetLamp(true); err != nil {
		t.Errorf("SetLamp(true) with no lamp = %v; want nil", err)
	}

	d, err = panel.OpenBoard("gpio:/dev/gpiochip0", panel.Pins{Red: panel.Pin{Name: "GPIO17"}}, nil)
	if err != nil || d.State() != (panel.State{Condition: panel.Absent, Reason: "no GPIO chip: none on this board"}) {
		t.Fatalf("OpenBoard() without GPIO = %v, %v; want absent", d, err)
	}
	checkAbsent(t, d)

	for _, tc := range []struct {
		pins  panel.Pins
		board map[string]gpio.PinIO
		want  string
	}{
		{panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Help: panel.Pin{Name: "GPIO99", ActiveLow: true}}, board,
			`panel source "gpio:/dev/gpiochip0": help pin GPIO99: no such line on /dev/gpiochip0`},
		{panel.Pins{Presence: panel.Pin{Name: "gpio27"}}, board,
			`panel source "gpio:/dev/gpiochip0": presence pin gpio27: no such line on /dev/gpiochip0`},
		{panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Lamp: panel.Pin{Name: "GPIO17"}}, board,
			`panel source "gpio:/dev/gpiochip0": lamp pin GPIO17: already the green pin`},
		// A line given two roles is a mistake whether or not the board has GPIO.
		{panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Lamp: panel.Pin{Name: "GPIO17"}}, nil,
			`panel source "gpio:/dev/gpiochip0": lamp pin GPIO17: already the green pin`},
	} {
		d, err := panel.OpenBoard("gpio:/dev/gpiochip0", tc.pins, tc.board)
		if d != nil || err == nil || err.Error() != tc.want {
			t.Errorf("OpenBoard(%+v) = %v, %v; want the error %q", tc.pins, d, err, tc.want)
		}
	}
}

func TestParsePins(t *testing.T) {
	got, err := panel.ParsePins(panel.Roles[string]{Green: "GPIO17", Help: "GPIO5:active-low", Tamper: "GPIO6"})
	want := panel.Pins{Green: panel.Pin{Name: "GPIO17"}, Help: panel.Pin{Name: "GPIO5", ActiveLow: true}, Tamper: panel.Pin{Name: "GPIO6"}}
	if err != nil || got != want {
		t.Errorf("ParsePins() = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		names panel.Roles[string]
		want  string
	}{
		{panel.Roles[string]{Help: "GPIO5:sideways", Lamp: ":active-low"},
			"lamp: panel pin \":active-low\": no line name; want e.g. GPIO17\nhelp: panel pin \"GPIO5:sideways\": unknown \"sideways\"; want active-low or active-high"},
		{panel.Roles[string]{Green: "GPIO17", Buzzer: "GPIO17"}, "buzzer pin GPIO17: already the green pin"},
	} {
		if _, err := panel.ParsePins(tc.names); err == nil || err.Error() != tc.want {
			t.Errorf("ParsePins(%+v) = %v; want %q", tc.names, err, tc.want)
		}
	}
}

// docs/HARDWARE.md tells installers what each status and tone looks and
// sounds like: it must say what the tables do.
func TestPatternsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/HARDWARE.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range []panel.Status{panel.Ready, panel.Busy, panel.Offline, panel.Attention, panel.OutOfService} {
		p, _ := s.Pattern()
		if !strings.Contains(doc, "| "+p.String()+" |") {
			t.Errorf("docs/HARDWARE.md does not give %s as %q", s, p)
		}
	}
	for _, tone := range []panel.Tone{panel.Success, panel.Refusal, panel.Call} {
		p, _ := tone.Pattern()
		if !strings.Contains(doc, "| "+p.String()+" |") {
			t.Errorf("docs/HARDWARE.md does not give tone %s as %q", tone, p)
		}
	}
}
