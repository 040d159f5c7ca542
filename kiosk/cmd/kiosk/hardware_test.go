package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// line is an output line that remembers every level it was driven to, and
// when.
type line struct {
	*gpiotest.Pin
	mu  sync.Mutex
	log []levelAt
}

type levelAt struct {
	at time.Time
	l  gpio.Level
}

func newLine(name string) *line { return &line{Pin: &gpiotest.Pin{N: name}} }

func (w *line) Out(l gpio.Level) error {
	w.mu.Lock()
	w.log = append(w.log, levelAt{time.Now(), l})
	w.mu.Unlock()
	return w.Pin.Out(l)
}

// pulses returns how long each time the line went high and then low again
// lasted, of those that began after since.
func (w *line) pulses(since time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ps []time.Duration
	var rose time.Time // zero: not high, or high since before since
	level := gpio.Low
	for _, c := range w.log {
		if c.l == level {
			continue // driven again to the level it was at
		}
		level = c.l
		switch {
		case c.at.Before(since):
			rose = time.Time{}
		case c.l == gpio.High:
			rose = c.at
		case !rose.IsZero():
			ps = append(ps, c.at.Sub(rose))
			rose = time.Time{}
		}
	}
	return ps
}

// level is the line's last level.
func (w *line) level() gpio.Level {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.log) == 0 {
		return gpio.Low
	}
	return w.log[len(w.log)-1].l
}

// input is an input line a test drives: set changes its level and raises
// the edge, as a button, a switch or a sensor would.
type input struct{ *gpiotest.Pin }

func newInput(name string, l gpio.Level) input {
	return input{&gpiotest.Pin{N: name, L: l, EdgesChan: make(chan gpio.Level, 8)}}
}

// In keeps the level the part drives: a closed switch holds its line low
// whatever the pull (gpiotest's In would set it to the pull's).
func (in input) In(pull gpio.Pull, edge gpio.Edge) error {
	in.Lock()
	l := in.L
	in.Unlock()
	err := in.Pin.In(pull, edge)
	in.Lock()
	in.L = l
	in.Unlock()
	return err
}

func (in input) set(l gpio.Level) {
	in.Lock()
	in.L = l
	in.Unlock()
	in.EdgesChan <- l
}

// wantPulses fails unless ps has at least n pulses, each within 40 % of
// want: the patterns are timed by the kiosk's own timers, on a busy test
// machine.
func wantPulses(t *testing.T, what string, ps []time.Duration, n int, want time.Duration) {
	t.Helper()
	if len(ps) < n {
		t.Errorf("%s: %d pulses %v; want at least %d of %v", what, len(ps), ps, n, want)
		return
	}
	for _, p := range ps {
		if p < want*6/10 || p > want*14/10 {
			t.Errorf("%s: pulses %v; want each %v", what, ps, want)
			return
		}
	}
}

// The whole kiosk on its hardware's drivers: a keyboard-wedge scanner
// typing into a FIFO (as evdev records), the panel on GPIO lines, the
// printer simulated. A check-in from the scan to the receipt, a refused
// card, the help button, the tamper switch and the presence sensor, with
// what the light and the buzzer do for each.
func TestHardwareEndToEnd(t *testing.T) {
	kit := testKit(t)
	dev := filepath.Join(t.TempDir(), "kiosk-scanner")
	if err := syscall.Mkfifo(dev, 0o600); err != nil {
		t.Fatal(err)
	}
	typist, err := os.OpenFile(dev, os.O_RDWR, 0) // the scanner, plugged in
	if err != nil {
		t.Fatal(err)
	}
	defer typist.Close()
	scan := func(text string) {
		t.Helper()
		evs, err := scanner.Generate(text, "us", 2*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := typist.Write(scanner.EncodeEvents(evs, 24)); err != nil {
			t.Fatal(err)
		}
	}

	green, amber, red, buzzer, lamp := newLine("GPIO17"), newLine("GPIO27"), newLine("GPIO22"), newLine("GPIO23"), newLine("GPIO24")
	help := newInput("GPIO5", gpio.High)  // a button to ground: up
	tamper := newInput("GPIO6", gpio.Low) // shut
	presence := newInput("GPIO13", gpio.Low)
	lines := panel.NewGPIO(panel.IO{Green: green, Amber: amber, Red: red, Buzzer: buzzer, Lamp: lamp,
		Help: help, Tamper: tamper, Presence: presence},
		panel.Options{Debounce: 10 * time.Millisecond, ActiveLow: panel.Roles[bool]{Help: true}})

	m := startMain(t, testLog(t), t.TempDir(), kit, "", func(m *Main) {
		m.Config.Scanner = "evdev:" + dev + "?grab=false&record=24"
		m.Config.Printer = "sim"
		m.Panel = lines
	})
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	for f := p.Want(kiosk.ScreenIdle); f.Reason != ""; f = p.Want(kiosk.ScreenIdle) {
		// The scanner's first state is absent, until its driver opens it.
	}

	// The card typed by the scanner: the confirm screen, the light busy
	// (amber, a slow blink), green and red dark.
	// (Each pattern is timed from before what starts it: the light and
	// the buzzer start with the screen, before its frame reaches the
	// page.)
	confirmed := time.Now()
	scan(kit.Samples["valid"])
	p.Want(kiosk.ScreenConfirm)
	time.Sleep(1800 * time.Millisecond) // the first blink began with offline's amber: two whole ones after it
	wantPulses(t, "busy light", amber.pulses(confirmed), 1, 500*time.Millisecond)
	if green.level() != gpio.Low || red.level() != gpio.Low {
		t.Errorf("busy: green %v, red %v; want both dark", green.level(), red.level())
	}

	// Yes: recorded, the success tone (one short beep), the receipt
	// printed.
	success := time.Now()
	p.Act(kiosk.ActionConfirm)
	// printing, then printed: the page may be sent only the newer of
	// two screens close together (the server keeps a slow page's newest).
	f := p.Want(kiosk.ScreenSuccess)
	if f.Receipt == string(kiosk.ReceiptPrinting) {
		f = p.Want(kiosk.ScreenSuccess)
	}
	if f.Receipt != string(kiosk.ReceiptPrinted) {
		t.Errorf("success: receipt %q; want printed", f.Receipt)
	}
	if n := recorded(t, m); n != 1 {
		t.Fatalf("%d check-ins recorded; want 1", n)
	}
	time.Sleep(600 * time.Millisecond)
	if ps := buzzer.pulses(success); len(ps) != 1 {
		t.Errorf("success tone: pulses %v; want one", ps)
	} else {
		wantPulses(t, "success tone", ps, 1, 150*time.Millisecond)
	}
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)

	// A refused card: see staff, the refusal tone (three short beeps),
	// the light calling for attention and the lamp lit for staff.
	refused := time.Now()
	scan(kit.Samples["expired"])
	p.Want(kiosk.ScreenSeeStaff)
	time.Sleep(900 * time.Millisecond)
	if ps := buzzer.pulses(refused); len(ps) != 3 {
		t.Errorf("refusal tone: pulses %v; want three", ps)
	} else {
		wantPulses(t, "refusal tone", ps, 3, 100*time.Millisecond)
	}
	if lamp.level() != gpio.High {
		t.Error("see staff: lamp dark; want it lit")
	}
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)

	// The help button: the help screen, the call (three long beeps).
	called := time.Now()
	help.set(gpio.Low)
	p.Want(kiosk.ScreenHelp)
	help.set(gpio.High)
	time.Sleep(2200 * time.Millisecond)
	if ps := buzzer.pulses(called); len(ps) != 3 {
		t.Errorf("call: pulses %v; want three", ps)
	} else {
		wantPulses(t, "call", ps, 3, 400*time.Millisecond)
	}
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)

	// The enclosure opened: out of service, the light red and blinking
	// fast, /healthz 503; shut: back.
	opened := time.Now()
	tamper.set(gpio.High)
	if f := p.Want(kiosk.ScreenOutOfService); f.Reason != kiosk.ReasonEnclosureOpen {
		t.Errorf("enclosure open: reason %q; want %q", f.Reason, kiosk.ReasonEnclosureOpen)
	}
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Reason string }
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || h.Reason != string(kiosk.ReasonEnclosureOpen) {
		t.Errorf("/healthz with the enclosure open: %d, %q; want 503, enclosure_open", resp.StatusCode, h.Reason)
	}
	scan(kit.Samples["valid"])
	p.Want(kiosk.ScreenOutOfService) // no card taken
	time.Sleep(1200 * time.Millisecond)
	wantPulses(t, "out-of-service light", red.pulses(opened), 2, 250*time.Millisecond)
	tamper.set(gpio.Low)
	p.Want(kiosk.ScreenIdle)

	// Someone walks up: the idle screen afresh, which wakes the page.
	before := p.Rev()
	presence.set(gpio.High)
	if f := p.Want(kiosk.ScreenIdle); f.Rev <= before {
		t.Errorf("presence: idle rev %d; want above %d", f.Rev, before)
	}
	if n := recorded(t, m); n != 1 {
		t.Errorf("%d check-ins recorded; want 1", n)
	}
}
