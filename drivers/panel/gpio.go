package panel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// DefaultDebounce is how long an input's level must hold before it counts.
// A push button's or microswitch's contacts bounce for a few milliseconds
// (rarely more than 10) when they close or open; a person's deliberate
// press lasts 100 ms or more. 30 ms is well above the one and well below
// the other, and too short for anyone to feel as a delay.
const DefaultDebounce = 30 * time.Millisecond

const (
	// idleWait is how long an input waits for an edge before it looks at
	// ctx again: at most the time Run takes to return. (gpioioctl's Halt,
	// which would end a wait at once, races with its WaitForEdge.)
	idleWait = 500 * time.Millisecond
	// retryWait is how long an input whose line failed waits before it
	// sets the line up again.
	retryWait = 2 * time.Second
)

// IO holds the lines of a panel, one gpio.PinIO (periph.io) per part; nil
// is a part not fitted. Open finds them on a GPIO chip; tests and other
// boards may bring their own (gpiotest.Pin, an I²C expander's lines).
type IO = Roles[gpio.PinIO]

// Options are a GPIO panel's settings besides its lines.
type Options struct {
	Debounce  time.Duration // how long an input must hold a level to count; 0: DefaultDebounce
	ActiveLow Roles[bool]   // the parts that are on (lit, pressed, open…) when their line is low
}

// GPIO is a front panel on GPIO lines (Raspberry Pi header, 3.3 V; Roles
// says how the parts are wired). Open makes one for "gpio:CHIP", NewGPIO
// from lines already open.
//
// Run owns the lines' timing: it starts one goroutine that plays the
// status light's pattern, one that plays the buzzer's tones, one that puts
// the lamp out when ctx ends and one per input, and they end before it
// returns. SetStatus and Buzz only tell them
// what to play; SetLamp sets its line itself. A line whose call fails is
// reported in State (Fault) and tried again, never by an error from Run.
//
// A GPIO made by Open on a machine without the chip is absent: its State
// says why (Absent), Run waits for ctx, and the outputs set no line and
// return nil (SetStatus and Buzz still refuse an unknown status or tone).
type GPIO struct {
	absent   string // why there is no panel; "" when there is
	debounce time.Duration

	green, amber, red, buzzer, lamp line // line.pin nil: not fitted
	inputs                          []input

	lightWake chan struct{} // SetStatus changed the status: the light looks again
	buzzWake  chan struct{} // Buzz: the buzzer looks again

	lampMu sync.Mutex // held while the lamp is set, so that lampOn is what its line shows
	lampOn bool

	mu      sync.Mutex
	status  Status
	tone    Tone
	faults  map[string]error // by role: the last call on its line failed so
	edges   chan<- Edge      // ReportEdges; nil: none
	running bool
}

var _ Device = (*GPIO)(nil)

// line is a part's line: pin nil if it is not fitted.
type line struct {
	role      string
	pin       gpio.PinIO
	activeLow bool
}

// level is the line's level for a part on (active) or off.
func (l line) level(active bool) gpio.Level { return gpio.Level(active != l.activeLow) }

// String names the line and its role, for errors: "GPIO17 (green)".
func (l line) String() string { return fmt.Sprintf("%s (%s)", l.pin.Name(), l.role) }

// input is a line read as an input, and the events its changes raise.
type input struct {
	line
	// pull holds the line at a level when nothing drives it, as when a
	// wire is cut.
	pull gpio.Pull
	// onActive and onInactive are sent when the debounced level changes
	// to active or inactive ("" for none), and at start too if atStart.
	onActive, onInactive Event
	atStart              bool
}

// NewGPIO returns a panel on the lines of io. It sets no line until Run
// (SetLamp excepted).
func NewGPIO(io IO, opt Options) *GPIO {
	g := newAbsent("")
	g.debounce = opt.Debounce
	if g.debounce <= 0 {
		g.debounce = DefaultDebounce
	}
	low := opt.ActiveLow
	g.green = line{"green", io.Green, low.Green}
	g.amber = line{"amber", io.Amber, low.Amber}
	g.red = line{"red", io.Red, low.Red}
	g.buzzer = line{"buzzer", io.Buzzer, low.Buzzer}
	g.lamp = line{"lamp", io.Lamp, low.Lamp}
	// The help button and the presence sensor rest where nothing drives
	// them, so that a cut wire invents no press; the tamper switch reads
	// open, so that cutting its wire is no way into the enclosure unseen.
	help := line{"help", io.Help, low.Help}
	tamper := line{"tamper", io.Tamper, low.Tamper}
	presence := line{"presence", io.Presence, low.Presence}
	for _, in := range []input{
		{line: help, pull: pullTo(help.level(false)), onActive: HelpPressed},
		{line: tamper, pull: pullTo(tamper.level(true)), onActive: EnclosureOpen, onInactive: EnclosureShut, atStart: true},
		{line: presence, pull: pullTo(presence.level(false)), onActive: Presence},
	} {
		if in.pin != nil {
			g.inputs = append(g.inputs, in)
		}
	}
	return g
}

// newAbsent returns a panel with no line, absent for the reason why ("":
// not absent, for NewGPIO to fill in).
func newAbsent(why string) *GPIO {
	return &GPIO{
		absent:    why,
		status:    Dark,
		lightWake: make(chan struct{}, 1),
		buzzWake:  make(chan struct{}, 1),
		faults:    map[string]error{},
	}
}

// pullTo returns the pull resistor that holds a line at l.
func pullTo(l gpio.Level) gpio.Pull {
	if l == gpio.High {
		return gpio.PullUp
	}
	return gpio.PullDown
}

// Run plays the outputs and sends the inputs' events on out until ctx
// ends, then turns every output off (a kiosk whose software has stopped
// shows no light that says it is ready) and returns nil. At start it sends
// the tamper switch's state, EnclosureOpen or EnclosureShut, once it has
// held for the debounce time. It waits for out to take each event. Run
// may be called again once it has returned, not twice at once.
func (g *GPIO) Run(ctx context.Context, out chan<- Event) error {
	if g.absent != "" {
		<-ctx.Done()
		return nil
	}
	g.mu.Lock()
	running := g.running
	g.running = true
	g.mu.Unlock()
	if running {
		return errors.New("panel: Run called while running")
	}
	defer func() {
		g.mu.Lock()
		g.running = false
		g.mu.Unlock()
	}()

	// A line not yet set may float, and a buzzer or relay with it.
	g.set(g.buzzer, false)
	g.lampMu.Lock()
	g.set(g.lamp, g.lampOn)
	g.lampMu.Unlock()
	// When ctx ends, the outputs go off at once, not once the inputs have
	// seen it.
	var wg sync.WaitGroup
	wg.Go(func() {
		g.playLight(ctx)
		g.showLight("", false)
	})
	wg.Go(func() {
		g.playBuzzer(ctx)
		g.set(g.buzzer, false)
	})
	wg.Go(func() {
		<-ctx.Done()
		_ = g.SetLamp(false) // its error is in State
	})
	for _, in := range g.inputs {
		wg.Go(func() { g.watch(ctx, in, out) })
	}
	wg.Wait()
	return nil
}

// SetStatus shows s on the status light, from the start of its pattern. It
// returns at once: Run's light goroutine plays the pattern.
func (g *GPIO) SetStatus(s Status) error {
	if _, ok := s.Pattern(); !ok {
		return fmt.Errorf("unknown status %q", s)
	}
	g.mu.Lock()
	changed := g.status != s
	g.status = s
	g.mu.Unlock()
	if changed { // the same status again goes on blinking in step
		wake(g.lightWake)
	}
	return nil
}

// Buzz starts t and returns at once; Run's buzzer goroutine plays it. A new
// tone, or the same one again, replaces one still playing.
func (g *GPIO) Buzz(t Tone) error {
	if _, ok := t.Pattern(); !ok {
		return fmt.Errorf("unknown tone %q", t)
	}
	g.mu.Lock()
	g.tone = t
	g.mu.Unlock()
	wake(g.buzzWake)
	return nil
}

// SetLamp lights the lamp, or puts it out, at once. Its error, a failed
// write to the lamp's line, is also in State.
func (g *GPIO) SetLamp(on bool) error {
	g.lampMu.Lock()
	defer g.lampMu.Unlock()
	g.lampOn = on
	return g.set(g.lamp, on)
}

// ReportEdges makes Run send every raw edge of the inputs on out, before
// debouncing, for an installer checking the wiring (`kiosk panel test`):
// a press shows as one or more edges to active, then to inactive. Call it
// before Run. Run waits for out to take each edge, so read it promptly.
func (g *GPIO) ReportEdges(out chan<- Edge) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.edges = out
}

// Edge is a raw change of an input's line.
type Edge struct {
	Role   string     // "help", "tamper" or "presence"
	Pin    string     // the line's name, e.g. GPIO22
	Level  gpio.Level // the level read just after the edge
	Active bool       // the part is on at Level: pressed, open, someone there
}

// String describes e for the installer: "help GPIO22: Low (active)".
func (e Edge) String() string {
	act := "inactive"
	if e.Active {
		act = "active"
	}
	return fmt.Sprintf("%s %s: %s (%s)", e.Role, e.Pin, e.Level, act)
}

// State returns Absent if there is no panel, Fault if the last call on a
// line failed (Reason names the first such line, the call and its error),
// else OK.
func (g *GPIO) State() State {
	if g.absent != "" {
		return State{Condition: Absent, Reason: g.absent}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var all Roles[bool]
	for _, r := range all.roles() {
		if err := g.faults[r.name]; err != nil {
			return State{Condition: Fault, Reason: err.Error()}
		}
	}
	return State{Condition: OK}
}

// note records how the last call on role's line went.
func (g *GPIO) note(role string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.faults[role] = err
	} else {
		delete(g.faults, role)
	}
}

// set turns the part on l on or off, if it is fitted.
func (g *GPIO) set(l line, on bool) error {
	if l.pin == nil {
		return nil
	}
	err := l.pin.Out(l.level(on))
	if err != nil {
		err = fmt.Errorf("out %s %s: %w", l, l.level(on), err)
	}
	g.note(l.role, err)
	return err
}

// wake tells a goroutine waiting on c to look again, without waiting for
// it: one token is enough, however many calls it missed.
func wake(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// playLight plays the status light's pattern, again from the start each
// time the status changes, until ctx ends.
func (g *GPIO) playLight(ctx context.Context) {
	for ctx.Err() == nil {
		g.mu.Lock()
		p, _ := g.status.Pattern()
		g.mu.Unlock()
		play(ctx, g.lightWake, p.Steps, true, func(on bool) { g.showLight(p.Colour, on) })
	}
}

// showLight shows c, or nothing if !on. Without an amber LED, amber is red
// and green together.
func (g *GPIO) showLight(c Colour, on bool) {
	green, amber, red := c == Green, c == Amber, c == Red
	if amber && g.amber.pin == nil {
		green, red = true, true
	}
	want := []struct {
		l  line
		on bool
	}{{g.green, on && green}, {g.amber, on && amber}, {g.red, on && red}}
	// Off before on: no moment shows a colour of neither step.
	for _, w := range want {
		if !w.on {
			g.set(w.l, false)
		}
	}
	for _, w := range want {
		if w.on {
			g.set(w.l, true)
		}
	}
}

// playBuzzer plays each tone Buzz asks for, until ctx ends.
func (g *GPIO) playBuzzer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.buzzWake:
		}
		for replaced := true; replaced; {
			g.mu.Lock()
			p, _ := g.tone.Pattern()
			g.mu.Unlock()
			replaced = play(ctx, g.buzzWake, p.Steps, false, func(on bool) { g.set(g.buzzer, on) })
		}
		g.set(g.buzzer, false)
	}
}

// play plays steps through set, once or in a loop, until they end, ctx
// ends or wake says another pattern replaces them: the last it reports.
// No steps is off.
func play(ctx context.Context, wake <-chan struct{}, steps []Step, loop bool, set func(on bool)) (replaced bool) {
	if len(steps) == 0 {
		steps = []Step{{}} // off, until replaced
	}
	for {
		for _, s := range steps {
			set(s.On)
			var next <-chan time.Time // nil: never
			if s.For > 0 {
				next = time.After(s.For)
			}
			select {
			case <-ctx.Done():
				return false
			case <-wake:
				return true
			case <-next:
			}
		}
		if !loop {
			return false
		}
	}
}

// watch sends in's events until ctx ends. While its line fails it says so
// in State and sets the line up again every retryWait.
func (g *GPIO) watch(ctx context.Context, in input, out chan<- Event) {
	for {
		err := in.pin.In(in.pull, gpio.BothEdges)
		if err != nil {
			err = fmt.Errorf("in %s %s: %w", in, in.pull, err)
		} else {
			err = g.follow(ctx, in, out)
		}
		if ctx.Err() != nil {
			return
		}
		g.note(in.role, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryWait):
		}
	}
}

// follow sends in's events until ctx ends (nil) or its line fails (an
// error). A level counts once it has held for the debounce time: each edge
// starts the wait again, so a bouncing contact makes one change, and a
// press shorter than the debounce time none. The first level that holds is
// the input's state at start. The line's fault, if it had one, is cleared
// once a wait for an edge has behaved, not before: a line that fails again
// at once does not read OK between two tries.
func (g *GPIO) follow(ctx context.Context, in input, out chan<- Event) error {
	var known, was, fine bool
	for edge := true; ; { // at start, wait for the level to hold as after an edge
		if edge {
			for ctx.Err() == nil && in.pin.WaitForEdge(g.debounce) {
				g.sendEdge(ctx, in)
			}
			if ctx.Err() != nil {
				return nil
			}
			now := in.level(true) == in.pin.Read()
			e := in.onInactive
			if now {
				e = in.onActive
			}
			if e != "" && ((known && now != was) || (!known && in.atStart)) {
				select {
				case out <- e:
				case <-ctx.Done():
				}
			}
			known, was = true, now
		}
		start := time.Now()
		edge = in.pin.WaitForEdge(idleWait)
		switch {
		case ctx.Err() != nil:
			return nil
		case !edge && time.Since(start) < idleWait/2:
			// gpioioctl returns at once when it cannot wait (and logs
			// why): without this, the loop would spin.
			return fmt.Errorf("wait for edge on %s: returned at once", in)
		case !fine:
			g.note(in.role, nil)
			fine = true
		}
		if edge {
			g.sendEdge(ctx, in)
		}
	}
}

// sendEdge sends in's edge on the channel ReportEdges gave, if any.
func (g *GPIO) sendEdge(ctx context.Context, in input) {
	g.mu.Lock()
	edges := g.edges
	g.mu.Unlock()
	if edges == nil {
		return
	}
	l := in.pin.Read()
	select {
	case edges <- Edge{Role: in.role, Pin: in.pin.Name(), Level: l, Active: l == in.level(true)}:
	case <-ctx.Done():
	}
}
