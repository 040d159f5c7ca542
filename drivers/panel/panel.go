// Package panel drives the kiosk's front panel: the status light the person
// sees, the buzzer, and the "staff called" lamp staff see across the room
// (outputs); the help button, the enclosure's tamper switch and the presence
// sensor (inputs).
//
// Sources name a panel as in the kiosk's configuration: "sim" is Sim, and
// "gpio:CHIP" the board's GPIO lines on a character device such as
// /dev/gpiochip0, through periph.io (GPIO, gpio.go). Open parses one and,
// with the configuration's Pins, returns its Device:
//
//	d, err := panel.Open("gpio:/dev/gpiochip0", panel.Pins{
//		Green: panel.Pin{Name: "GPIO17"}, Red: panel.Pin{Name: "GPIO27"},
//		Help: panel.Pin{Name: "GPIO22", ActiveLow: true}, …
//	})
//	go d.Run(ctx, events)
//	d.SetStatus(panel.Ready)
//
// A board without GPIO is not an error: Open returns a device whose State
// is Absent, whose Run waits for ctx and whose outputs do nothing, so the
// kiosk runs on (its screen offers help without the button).
//
// Each Status has a colour and a blink pattern of its own, and each Tone an
// on/off pattern: colour is never the only cue. They are data (Pattern),
// read by the driver, the tests and Exercise, which steps an installer
// through every output (`kiosk panel test`); GPIO.ReportEdges shows the
// installer each raw edge of the inputs, before debouncing.
//
// Inputs come out of Run(ctx, out) on a channel the caller owns; Run's
// goroutine is the caller's, and the goroutines Run starts (one per input,
// one for the light, one for the buzzer, one that puts the lamp out when ctx
// ends) end before it returns. The outputs may be set from any goroutine
// and return at once: the kiosk sets them from its flow's goroutine, which
// must never wait for hardware.
//
// The package imports nothing else of this module.
package panel

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Status is what the status light tells the person at the kiosk.
type Status string

// The statuses. Each has its colour and its own blink pattern (Pattern).
const (
	Dark         Status = "dark"           // off
	Ready        Status = "ready"          // green: scan your card
	Busy         Status = "busy"           // amber: a person is checking in
	Offline      Status = "offline"        // amber: check-ins are recorded but cannot be sent now
	Attention    Status = "attention"      // amber: waiting for staff (see staff, help asked)
	OutOfService Status = "out_of_service" // red
)

// Tone is a sound the buzzer plays.
type Tone string

// The tones, each with its own on/off pattern (Pattern).
const (
	Success Tone = "success" // checked in
	Refusal Tone = "refusal" // the card was refused, or cannot be read
	Call    Tone = "call"    // someone at the kiosk asked for staff
)

// Event is an input from the panel.
type Event string

// The events.
const (
	HelpPressed   Event = "help_pressed"   // the help button went down
	EnclosureOpen Event = "enclosure_open" // the tamper switch says open; also at start if it is
	EnclosureShut Event = "enclosure_shut" // the tamper switch says shut; also at start if it is
	Presence      Event = "presence"       // someone arrived in front of the kiosk
)

// Device is a front panel, whichever kind its source named.
type Device interface {
	// Run plays the outputs and sends every input event on out until ctx
	// ends. A missing or failing panel is reported in State, not by an
	// error: check-ins go on without it. Call it once.
	Run(ctx context.Context, out chan<- Event) error
	// SetStatus shows s on the status light, with its blink pattern. It
	// fails only for an unknown status.
	SetStatus(s Status) error
	// SetLamp lights the "staff called" lamp, or puts it out.
	SetLamp(on bool) error
	// Buzz starts t and returns at once; a new tone replaces one still
	// playing. It fails only for an unknown tone.
	Buzz(t Tone) error
	// State says how the panel is, for the kiosk's status.
	State() State
}

// State is how a panel is. The zero State reads as unknown.
type State struct {
	Condition Condition
	Reason    string // why the panel is not OK, for the operator: the failing call and its error
}

// Condition is whether a panel works.
type Condition string

// The conditions.
const (
	OK           Condition = "ok"           // working
	Disconnected Condition = "disconnected" // was there, went away; waiting for it to return
	Fault        Condition = "fault"        // there but failing; Reason says why
	Absent       Condition = "absent"       // not found since the driver started; Reason says why
)

// Colour is the colour of the status light.
type Colour string

// The colours. A panel without an amber LED shows amber as red and green
// together (a bi-colour LED).
const (
	Green Colour = "green"
	Amber Colour = "amber"
	Red   Colour = "red"
)

// Step is one part of a Pattern: the output on or off for a while.
type Step struct {
	On  bool
	For time.Duration // 0: until the pattern is replaced
}

// Pattern is how an output plays a Status or a Tone. The status light plays
// its Steps in a loop until another status replaces it, in Colour; the
// buzzer plays a tone's Steps once, then stops. A Pattern without steps is
// off.
type Pattern struct {
	Colour Colour // the status light's colour; empty for a tone
	Steps  []Step
}

// String describes p for a person, as Exercise reports it: "amber: on
// 500ms, off 500ms".
func (p Pattern) String() string {
	var b strings.Builder
	if p.Colour != "" {
		b.WriteString(string(p.Colour) + ": ")
	}
	if len(p.Steps) == 0 {
		b.WriteString("off")
	}
	for i, s := range p.Steps {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case s.For == 0 && s.On:
			b.WriteString("steady")
		case s.For == 0:
			b.WriteString("off")
		case s.On:
			fmt.Fprintf(&b, "on %v", s.For)
		default:
			fmt.Fprintf(&b, "off %v", s.For)
		}
	}
	return b.String()
}

// The patterns. No light flashes more than twice a second, below the three
// flashes a second that can trigger a seizure (WCAG 2.3.1): the people at
// the kiosk did not choose to look at it. Each status differs from the
// others of its colour by its rhythm, so that someone who cannot tell amber
// from red or green still tells them apart.
var (
	statuses = []Status{Ready, Busy, Offline, Attention, OutOfService, Dark} // Dark last: Exercise ends the light's part with it
	patterns = map[Status]Pattern{
		Dark:    {},
		Ready:   {Green, []Step{on(0)}},                        // steady
		Busy:    {Amber, []Step{on(500 * ms), off(500 * ms)}},  // a slow blink
		Offline: {Amber, []Step{on(1800 * ms), off(200 * ms)}}, // steady, dark a moment every 2 s
		// A fast double flash, once a second.
		Attention:    {Amber, []Step{on(150 * ms), off(150 * ms), on(150 * ms), off(550 * ms)}},
		OutOfService: {Red, []Step{on(250 * ms), off(250 * ms)}}, // a fast blink
	}

	tones = []Tone{Success, Refusal, Call}
	// One short beep says yes; three quick ones no; long beeps call staff
	// across the room.
	tonePatterns = map[Tone]Pattern{
		Success: {Steps: []Step{on(150 * ms)}},
		Refusal: {Steps: []Step{on(100 * ms), off(100 * ms), on(100 * ms), off(100 * ms), on(100 * ms)}},
		Call:    {Steps: []Step{on(400 * ms), off(200 * ms), on(400 * ms), off(200 * ms), on(400 * ms)}},
	}
)

const ms = time.Millisecond

func on(d time.Duration) Step  { return Step{On: true, For: d} }
func off(d time.Duration) Step { return Step{On: false, For: d} }

// Pattern returns how the status light shows s, and whether s is a known
// status.
func (s Status) Pattern() (Pattern, bool) {
	p, ok := patterns[s]
	return clonePattern(p), ok
}

// Pattern returns how the buzzer plays t, and whether t is a known tone.
func (t Tone) Pattern() (Pattern, bool) {
	p, ok := tonePatterns[t]
	return clonePattern(p), ok
}

// clonePattern returns a copy of p that its caller may change without
// changing the tables.
func clonePattern(p Pattern) Pattern {
	p.Steps = append([]Step(nil), p.Steps...)
	return p
}
