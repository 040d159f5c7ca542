package panel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
)

const ms = time.Millisecond

// wire is a line of a test board: a gpiotest.Pin that keeps a log of its
// levels. Out logs each change of level with the time since the test began
// (fake time, in a synctest bubble), so a test reads what an LED or buzzer
// did and when. In sets the pull but, unlike gpiotest's, keeps the level:
// the switch on the line holds it, whatever the pull. Edges are sent on
// EdgesChan (unbuffered: a send returns once the driver has taken it).
type wire struct {
	*gpiotest.Pin
	start time.Time

	mu      sync.Mutex
	log     []string // "500ms High"
	outErr  error    // Out fails with it
	inErrs  int      // the next inErrs calls of In fail
	noWaits bool     // WaitForEdge returns false at once, as gpioioctl's does when it cannot wait
}

func newWire(name string, l gpio.Level) *wire {
	return &wire{Pin: &gpiotest.Pin{N: name, L: l, EdgesChan: make(chan gpio.Level)}, start: time.Now()}
}

func (w *wire) Out(l gpio.Level) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.outErr != nil {
		return w.outErr
	}
	if w.Pin.Read() != l {
		w.log = append(w.log, fmt.Sprintf("%v %v", time.Since(w.start), l))
	}
	return w.Pin.Out(l)
}

func (w *wire) In(pull gpio.Pull, edge gpio.Edge) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inErrs > 0 {
		w.inErrs--
		return errors.New("device or resource busy")
	}
	w.Pin.Lock()
	defer w.Pin.Unlock()
	w.P = pull
	return nil
}

func (w *wire) WaitForEdge(timeout time.Duration) bool {
	w.mu.Lock()
	no := w.noWaits
	w.mu.Unlock()
	if no {
		return false
	}
	return w.Pin.WaitForEdge(timeout)
}

// Log returns the changes of level so far, joined: "0s High, 500ms Low".
func (w *wire) Log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.log, ", ")
}

// edges sends levels on w, at steps apart.
func (w *wire) edges(step time.Duration, levels ...gpio.Level) {
	for i, l := range levels {
		if i > 0 {
			time.Sleep(step)
		}
		w.EdgesChan <- l
	}
}

// board is a panel's lines on wires, every part fitted but amber. Outputs
// start low (off, active-high), the help button high (released,
// active-low), the tamper switch low (shut), the presence sensor low (no
// one).
type board struct {
	green, amber, red, buzzer, lamp, help, tamper, presence *wire
}

func newBoard() *board {
	return &board{
		green: newWire("GPIO17", gpio.Low), amber: newWire("GPIO18", gpio.Low), red: newWire("GPIO27", gpio.Low),
		buzzer: newWire("GPIO12", gpio.Low), lamp: newWire("GPIO5", gpio.Low),
		help: newWire("GPIO22", gpio.High), tamper: newWire("GPIO23", gpio.Low), presence: newWire("GPIO24", gpio.Low),
	}
}

// io returns b's lines, without amber unless withAmber.
func (b *board) io(withAmber bool) panel.IO {
	io := panel.IO{Green: b.green, Red: b.red, Buzzer: b.buzzer, Lamp: b.lamp, Help: b.help, Tamper: b.tamper, Presence: b.presence}
	if withAmber {
		io.Amber = b.amber
	}
	return io
}

// run runs g until the test ends, collecting its events with the time
// each came ("30ms enclosure_shut"). The returned func stops g, checks
// that Run returned nil and returns the events.
func run(t *testing.T, g *panel.GPIO) (stop func() []string) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan panel.Event)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, out) }()
	var events []string
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case e := <-out:
				events = append(events, fmt.Sprintf("%v %s", time.Since(start), e))
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []string {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
		<-collected
		return events
	}
}

// TestLight plays every status on the light, with and without an amber LED
// and with active-low lines, and checks each line's levels over 2.1 s, then
// off when Run ends.
func TestLight(t *testing.T) {
	for _, tc := range []struct {
		status           panel.Status
		amber, activeLow bool
		green, am, red   string // the levels each line went through
	}{
		{status: panel.Dark, amber: true},
		{status: panel.Ready, amber: true, green: "0s High, 2.1s Low"},
		{status: panel.Busy, amber: true, am: "0s High, 500ms Low, 1s High, 1.5s Low, 2s High, 2.1s Low"},
		{status: panel.Offline, amber: true, am: "0s High, 1.8s Low, 2s High, 2.1s Low"},
		{status: panel.Attention, amber: true,
			am: "0s High, 150ms Low, 300ms High, 450ms Low, 1s High, 1.15s Low, 1.3s High, 1.45s Low, 2s High, 2.1s Low"},
		{status: panel.OutOfService, amber: true,
			red: "0s High, 250ms Low, 500ms High, 750ms Low, 1s High, 1.25s Low, 1.5s High, 1.75s Low, 2s High, 2.1s Low"},

		// A bi-colour LED: amber is red and green together.
		{status: panel.Busy,
			green: "0s High, 500ms Low, 1s High, 1.5s Low, 2s High, 2.1s Low",
			red:   "0s High, 500ms Low, 1s High, 1.5s Low, 2s High, 2.1s Low"},
		{status: panel.Ready, green: "0s High, 2.1s Low"},

		// Active-low lines, high when off: every level inverted.
		{status: panel.Ready, amber: true, activeLow: true, green: "0s Low, 2.1s High"},
		{status: panel.Busy, activeLow: true,
			green: "0s Low, 500ms High, 1s Low, 1.5s High, 2s Low, 2.1s High",
			red:   "0s Low, 500ms High, 1s Low, 1.5s High, 2s Low, 2.1s High"},
	} {
		name := fmt.Sprintf("%s/amber=%v/activeLow=%v", tc.status, tc.amber, tc.activeLow)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBoard()
				if tc.activeLow {
					b.green.L, b.amber.L, b.red.L = gpio.High, gpio.High, gpio.High
				}
				low := panel.Roles[bool]{Green: tc.activeLow, Amber: tc.activeLow, Red: tc.activeLow}
				g := panel.NewGPIO(panel.IO{Green: b.green, Amber: b.io(tc.amber).Amber, Red: b.red}, panel.Options{ActiveLow: low})
				if err := g.SetStatus(tc.status); err != nil {
					t.Fatalf("SetStatus(%s) = %v", tc.status, err)
				}
				stop := run(t, g)
				time.Sleep(2100 * ms)
				stop()
				for _, l := range []struct {
					name string
					w    *wire
					want string
				}{{"green", b.green, tc.green}, {"amber", b.amber, tc.am}, {"red", b.red, tc.red}} {
					if got := l.w.Log(); got != l.want {
						t.Errorf("%s: %s; want %q", l.name, got, l.want)
					}
				}
				if st := g.State(); st.Condition != panel.OK {
					t.Errorf("State() = %+v; want OK", st)
				}
			})
		})
	}
}

// TestLightChanges checks that a new status replaces the pattern at once,
// from its start, and the same status again does not break its rhythm.
func TestLightChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(b.io(true), panel.Options{})
		stop := run(t, g)
		g.SetStatus(panel.Busy)
		time.Sleep(700 * ms)
		g.SetStatus(panel.Busy) // blinking on
		time.Sleep(500 * ms)
		g.SetStatus(panel.OutOfService) // at 1.2 s, amber on since 1 s
		time.Sleep(300 * ms)
		g.SetStatus(panel.Ready)
		time.Sleep(time.Second)
		stop()
		for _, l := range []struct {
			name string
			w    *wire
			want string
		}{
			{"amber", b.amber, "0s High, 500ms Low, 1s High, 1.2s Low"},
			{"red", b.red, "1.2s High, 1.45s Low"}, // and not again at 1.7 s
			{"green", b.green, "1.5s High, 2.5s Low"},
		} {
			if got := l.w.Log(); got != l.want {
				t.Errorf("%s: %s; want %q", l.name, got, l.want)
			}
		}
	})
}

// TestBuzzer plays every tone and checks the buzzer's levels: each its own
// pattern, played once, then silence.
func TestBuzzer(t *testing.T) {
	for _, tc := range []struct {
		tone panel.Tone
		want string
	}{
		{panel.Success, "0s High, 150ms Low"},
		{panel.Refusal, "0s High, 100ms Low, 200ms High, 300ms Low, 400ms High, 500ms Low"},
		{panel.Call, "0s High, 400ms Low, 600ms High, 1s Low, 1.2s High, 1.6s Low"},
	} {
		t.Run(string(tc.tone), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBoard()
				g := panel.NewGPIO(panel.IO{Buzzer: b.buzzer}, panel.Options{})
				stop := run(t, g)
				if err := g.Buzz(tc.tone); err != nil {
					t.Fatalf("Buzz(%s) = %v", tc.tone, err)
				}
				time.Sleep(3 * time.Second)
				stop()
				if got := b.buzzer.Log(); got != tc.want {
					t.Errorf("buzzer: %s; want %q", got, tc.want)
				}
			})
		})
	}
}

// TestBuzzerReplaced checks that a tone replaces one still playing, and
// that an unknown tone is refused and plays nothing.
func TestBuzzerReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(panel.IO{Buzzer: b.buzzer}, panel.Options{ActiveLow: panel.Roles[bool]{Buzzer: true}})
		stop := run(t, g)
		g.Buzz(panel.Call)
		time.Sleep(500 * ms) // in Call's first silence
		g.Buzz(panel.Success)
		time.Sleep(time.Second)
		if err := g.Buzz("siren"); err == nil {
			t.Error(`Buzz("siren") = nil; want an error`)
		}
		g.Buzz(panel.Success)
		time.Sleep(100 * ms) // cut short by the end of Run
		stop()
		if got, want := b.buzzer.Log(), "0s High, 0s Low, 400ms High, 500ms Low, 650ms High, 1.5s Low, 1.6s High"; got != want {
			t.Errorf("buzzer: %s; want %q", got, want)
		}
	})
}

// TestLamp checks that the lamp follows SetLamp at once, is set off when
// Run starts (a floating line could light a relay) and turned off when it
// ends.
func TestLamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(panel.IO{Lamp: b.lamp}, panel.Options{ActiveLow: panel.Roles[bool]{Lamp: true}})
		stop := run(t, g)
		time.Sleep(time.Second)
		g.SetLamp(true)
		time.Sleep(time.Second)
		g.SetLamp(false)
		time.Sleep(time.Second)
		g.SetLamp(true)
		time.Sleep(time.Second)
		stop()
		if got, want := b.lamp.Log(), "0s High, 1s Low, 2s High, 3s Low, 4s High"; got != want {
			t.Errorf("lamp: %s; want %q", got, want)
		}
	})
}

// TestHelpButton presses the help button (active-low) as people do: with
// bouncing contacts, too briefly, held. Only a press that holds for the
// debounce time is a HelpPressed, once, when it has held so long.
func TestHelpButton(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(panel.IO{Help: b.help}, panel.Options{ActiveLow: panel.Roles[bool]{Help: true}})
		stop := run(t, g)
		time.Sleep(time.Second)
		b.help.edges(2*ms, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low) // 1 s: a bouncing press, down at 1.008 s
		time.Sleep(200 * ms)
		b.help.edges(3*ms, gpio.High, gpio.Low, gpio.High) // and its bouncing release
		time.Sleep(time.Second)
		b.help.edges(20*ms, gpio.Low, gpio.High) // 2.214 s: a brush shorter than 30 ms
		time.Sleep(time.Second)
		b.help.edges(0, gpio.Low) // 3.234 s: held down
		time.Sleep(5 * time.Second)
		b.help.edges(0, gpio.High)
		time.Sleep(time.Second)
		got := stop()
		want := []string{"1.038s help_pressed", "3.264s help_pressed"}
		if !slices.Equal(got, want) {
			t.Errorf("events %q; want %q", got, want)
		}
		if p := b.help.Pull(); p != gpio.PullUp {
			t.Errorf("help button's pull = %s; want PullUp (to ground when pressed)", p)
		}
	})
}

// TestDebounceOption checks that Options.Debounce is the time a level must
// hold.
func TestDebounceOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(panel.IO{Presence: b.presence}, panel.Options{Debounce: 200 * ms})
		stop := run(t, g)
		time.Sleep(time.Second)
		b.presence.edges(150*ms, gpio.High, gpio.Low) // too short now
		time.Sleep(time.Second)
		b.presence.edges(0, gpio.High)
		time.Sleep(time.Second)
		if got, want := stop(), []string{"2.35s presence"}; !slices.Equal(got, want) {
			t.Errorf("events %q; want %q", got, want)
		}
	})
}

// TestTamper checks that the tamper switch's state is sent at start, shut
// or open (the enclosure may have been opened while the kiosk was off),
// then each change, debounced.
func TestTamper(t *testing.T) {
	for _, tc := range []struct {
		atStart gpio.Level
		want    []string
	}{
		{gpio.Low, []string{"30ms enclosure_shut", "1.03s enclosure_open", "2.038s enclosure_shut"}},
		{gpio.High, []string{"30ms enclosure_open", "2.038s enclosure_shut"}},
	} {
		t.Run(tc.atStart.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBoard()
				b.tamper.Pin.L = tc.atStart
				g := panel.NewGPIO(panel.IO{Tamper: b.tamper}, panel.Options{})
				stop := run(t, g)
				time.Sleep(time.Second)
				b.tamper.edges(0, gpio.High) // opened (or, if open, a bounce)
				time.Sleep(time.Second)
				b.tamper.edges(2*ms, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low) // shut, bouncing
				time.Sleep(time.Second)
				if got := stop(); !slices.Equal(got, tc.want) {
					t.Errorf("events %q; want %q", got, tc.want)
				}
				if p := b.tamper.Pull(); p != gpio.PullUp {
					t.Errorf("tamper switch's pull = %s; want PullUp (a cut wire reads open)", p)
				}
			})
		})
	}
}

// TestPresence checks that someone arriving is a Presence, leaving none,
// and an active-low sensor reads inverted, its pull holding it at rest.
func TestPresence(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		t.Run(fmt.Sprint("activeLow=", activeLow), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBoard()
				away, there, pull := gpio.Low, gpio.High, gpio.PullDown
				if activeLow {
					away, there, pull = gpio.High, gpio.Low, gpio.PullUp
				}
				b.presence.Pin.L = away
				g := panel.NewGPIO(panel.IO{Presence: b.presence}, panel.Options{ActiveLow: panel.Roles[bool]{Presence: activeLow}})
				stop := run(t, g)
				time.Sleep(time.Second)
				b.presence.edges(4*time.Second, there, away)
				time.Sleep(time.Second)
				b.presence.edges(0, there)
				time.Sleep(time.Second)
				if got, want := stop(), []string{"1.03s presence", "6.03s presence"}; !slices.Equal(got, want) {
					t.Errorf("events %q; want %q", got, want)
				}
				if p := b.presence.Pull(); p != pull {
					t.Errorf("presence sensor's pull = %s; want %s", p, pull)
				}
			})
		})
	}
}

// TestReportEdges checks that the installer sees every raw edge of a
// bouncing press, with its level and meaning, besides the one debounced
// event.
func TestReportEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(panel.IO{Help: b.help, Tamper: b.tamper}, panel.Options{ActiveLow: panel.Roles[bool]{Help: true}})
		edges := make(chan panel.Edge, 10)
		g.ReportEdges(edges)
		stop := run(t, g)
		time.Sleep(time.Second)
		b.help.edges(2*ms, gpio.Low, gpio.High, gpio.Low)
		time.Sleep(time.Second)
		b.help.edges(0, gpio.High)
		synctest.Wait() // its edge reported before the tamper switch's
		b.tamper.edges(0, gpio.High)
		time.Sleep(time.Second)
		events := stop()
		close(edges)
		var got []string
		for e := range edges {
			got = append(got, e.String())
		}
		want := []string{
			"help GPIO22: Low (active)", "help GPIO22: High (inactive)", "help GPIO22: Low (active)",
			"help GPIO22: High (inactive)", "tamper GPIO23: High (active)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if want := []string{"30ms enclosure_shut", "1.034s help_pressed", "2.034s enclosure_open"}; !slices.Equal(events, want) {
			t.Errorf("events %q; want %q", events, want)
		}
	})
}

// TestFaults checks that a failing line is a Fault in State naming the
// line, the call and its error, that Run goes on (the other parts work,
// the failing input is tried again) and that State is OK once the line
// works again.
func TestFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		b.green.outErr = errors.New("input/output error")
		b.help.inErrs = 2
		g := panel.NewGPIO(b.io(true), panel.Options{ActiveLow: panel.Roles[bool]{Help: true}})
		g.SetStatus(panel.Ready)
		stop := run(t, g)
		synctest.Wait()
		want := panel.State{Condition: panel.Fault, Reason: "out GPIO17 (green) High: input/output error"}
		if got := g.State(); got != want {
			t.Errorf("State() = %+v; want %+v", got, want)
		}
		b.green.mu.Lock()
		b.green.outErr = nil
		b.green.mu.Unlock()
		g.SetStatus(panel.Busy)
		synctest.Wait()
		want = panel.State{Condition: panel.Fault, Reason: "in GPIO22 (help) PullUp: device or resource busy"}
		if got := g.State(); got != want {
			t.Errorf("State() after the green line's fault = %+v; want %+v", got, want)
		}

		time.Sleep(4600 * ms) // tries at 0 and 2 s fail; at 4 s it works, and a wait that behaves ends at 4.53 s
		if got := g.State(); got != (panel.State{Condition: panel.OK}) {
			t.Errorf("State() once the help button's line works = %+v; want OK", got)
		}
		b.help.edges(0, gpio.Low)
		time.Sleep(time.Second)
		if got, want := stop(), []string{"30ms enclosure_shut", "4.63s help_pressed"}; !slices.Equal(got, want) {
			t.Errorf("events %q; want %q", got, want)
		}
		if got, want := b.amber.Log(), "0s High, 500ms Low, 1s High, 1.5s Low"; !strings.HasPrefix(got, want) {
			t.Errorf("amber: %s; want it to begin %q (the light blinks on)", got, want)
		}
	})
}

// TestWaitForEdgeFails checks that an input whose line cannot wait for an
// edge is a Fault, tried every 2 s, and does not spin (in a synctest
// bubble, a spinning goroutine would stop fake time).
func TestWaitForEdgeFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		b.presence.noWaits = true
		g := panel.NewGPIO(panel.IO{Presence: b.presence, Red: b.red}, panel.Options{})
		g.SetStatus(panel.OutOfService)
		stop := run(t, g)
		time.Sleep(10 * time.Second)
		want := panel.State{Condition: panel.Fault, Reason: "wait for edge on GPIO24 (presence): returned at once"}
		if got := g.State(); got != want {
			t.Errorf("State() = %+v; want %+v", got, want)
		}
		stop()
		if got := b.red.Log(); !strings.HasPrefix(got, "0s High, 250ms Low") {
			t.Errorf("red: %s; want it blinking", got)
		}
	})
}

// TestRunTwice checks that a second Run while one runs is refused.
func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := panel.NewGPIO(panel.IO{}, panel.Options{})
		stop := run(t, g)
		synctest.Wait()
		if err := g.Run(context.Background(), nil); err == nil {
			t.Error("a second Run() = nil; want an error")
		}
		stop()
	})
}
