// Package panel drives the kiosk's front panel: the status light the person
// sees, the lamp staff see across the room and the buzzer (outputs), and the
// help button, the enclosure's tamper switch and the presence sensor
// (inputs).
//
// Sources name a panel as in the kiosk's configuration: "sim" is Sim, and
// "gpio:CHIP" the Raspberry Pi's GPIO lines on a character device such as
// /dev/gpiochip0, through periph.io; Open parses one and returns its Device.
// This build has only Sim; the GPIO driver follows.
//
// Inputs come out of Run(ctx, out) on a channel the caller owns; Run's
// goroutine is the caller's and the only one that reads the inputs. The
// outputs may be set from any goroutine, and return at once: the kiosk sets
// them from its flow's goroutine, which must never wait for hardware.
//
// The package imports nothing else of this module.
package panel

import "context"

// Light is the colour of the status light.
type Light string

// The lights.
const (
	Off    Light = "off"
	Green  Light = "green"  // ready, or checked in
	Amber  Light = "amber"  // waiting for the person
	Red    Light = "red"    // see staff
	Blue   Light = "blue"   // help requested
	Purple Light = "purple" // out of service
)

// Tone is a sound the buzzer plays.
type Tone string

// The tones.
const (
	// Call asks staff to come: someone at the kiosk asked for help.
	Call Tone = "call"
)

// Event is an input from the panel.
type Event string

// The events.
const (
	HelpPressed    Event = "help_pressed"
	EnclosureOpen  Event = "enclosure_open"
	EnclosureShut  Event = "enclosure_shut"
	PresenceChange Event = "presence_change"
)

// Device is a front panel, whichever kind its source named.
type Device interface {
	// Run sends every input event on out until ctx ends (nil) or the
	// panel fails for good (an error). Call it once.
	Run(ctx context.Context, out chan<- Event) error
	SetLight(Light) error  // the status light, for the person at the kiosk
	SetLamp(on bool) error // the lamp on top, for staff across the room
	// Buzz starts t and returns without waiting for it to end.
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
	Absent       Condition = "absent"       // not found since the driver started
)
