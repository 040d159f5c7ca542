package scanner

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrStopped is returned by Sim.Feed when the scanner is not running.
var ErrStopped = errors.New("simulated scanner is not running")

// Sim is a simulated scanner: codes handed to Feed come out of Run as if
// scanned. It stands in for the hardware in the demo and in tests, which
// can also make it report any State.
type Sim struct {
	in   chan string
	done chan struct{}

	mu    sync.Mutex
	state State
}

var _ Device = (*Sim)(nil)

// NewSim returns a simulated scanner, OK.
func NewSim() *Sim {
	return &Sim{in: make(chan string), done: make(chan struct{}), state: State{Condition: OK}}
}

// Feed scans text. It blocks until Run has taken it, so a scan is never
// dropped, and fails if ctx ends first or Run has returned.
func (s *Sim) Feed(ctx context.Context, text string) error {
	select {
	case s.in <- text:
		return nil
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run sends every fed code on out until ctx ends. Call it once.
func (s *Sim) Run(ctx context.Context, out chan<- Scan) error {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case text := <-s.in:
			select {
			case out <- Scan{Text: text, At: time.Now()}:
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

// SetState makes the scanner report st, as a driver would when its device
// is unplugged or fails. Scans fed go on coming out of Run.
func (s *Sim) SetState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
}
