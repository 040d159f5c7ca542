// Package panel drives the kiosk's front panel: the status light and buzzer
// (outputs) and the help button and enclosure tamper switch (inputs).
//
// The GPIO driver (periph.io) follows; Sim stands in for it in the demo and
// in tests. Inputs come out of Run(ctx, out) on a channel the caller owns.
//
// The package imports nothing else of this module.
package panel

import (
	"context"
	"sync"
)

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

// Event is an input from the panel.
type Event string

// The events.
const (
	HelpPressed    Event = "help_pressed"
	EnclosureOpen  Event = "enclosure_open"
	EnclosureShut  Event = "enclosure_shut"
	PresenceChange Event = "presence_change"
)

// Sim is a simulated panel: it remembers the light and turns Press calls
// into events.
type Sim struct {
	mu    sync.Mutex
	light Light
	in    chan Event
}

// NewSim returns a simulated panel with its light off.
func NewSim() *Sim { return &Sim{light: Off, in: make(chan Event)} }

// SetLight sets the status light.
func (s *Sim) SetLight(l Light) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.light = l
	return nil
}

// Light returns the status light's colour.
func (s *Sim) Light() Light {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.light
}

// Press delivers e as if the hardware had raised it. It blocks until Run
// takes it or ctx ends.
func (s *Sim) Press(ctx context.Context, e Event) error {
	select {
	case s.in <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run sends pressed events on out until ctx ends.
func (s *Sim) Run(ctx context.Context, out chan<- Event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.in:
			select {
			case out <- e:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
