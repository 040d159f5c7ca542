package panel

import (
	"context"
	"fmt"
	"sync"
)

// Sim is a simulated panel: it remembers its outputs and turns Press calls
// into events. It stands in for the hardware in the demo and in tests,
// which can also make it report any State. It has no timing: Status says
// which pattern the light would play, Tones which tones were started.
type Sim struct {
	in chan Event

	mu     sync.Mutex
	status Status
	lamp   bool
	tones  []Tone
	state  State
}

var _ Device = (*Sim)(nil)

// NewSim returns a simulated panel, OK, with its light Dark.
func NewSim() *Sim { return &Sim{status: Dark, in: make(chan Event), state: State{Condition: OK}} }

// SetStatus sets the status light; an unknown status is an error, as on
// the hardware.
func (s *Sim) SetStatus(st Status) error {
	if _, ok := st.Pattern(); !ok {
		return fmt.Errorf("unknown status %q", st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = st
	return nil
}

// Status returns the status the light shows.
func (s *Sim) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// SetLamp lights the lamp, or puts it out.
func (s *Sim) SetLamp(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lamp = on
	return nil
}

// Lamp reports whether the lamp is lit.
func (s *Sim) Lamp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lamp
}

// Buzz plays t: it is added to Tones. An unknown tone is an error, as on
// the hardware.
func (s *Sim) Buzz(t Tone) error {
	if _, ok := t.Pattern(); !ok {
		return fmt.Errorf("unknown tone %q", t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tones = append(s.tones, t)
	return nil
}

// Tones returns the tones played so far, in order.
func (s *Sim) Tones() []Tone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Tone(nil), s.tones...)
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

// State returns the state last set, OK until SetState.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// SetState makes the panel report st, as a driver would when its lines
// cannot be read or its board is unplugged. The outputs and Press go on
// working.
func (s *Sim) SetState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
}
