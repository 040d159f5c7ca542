package scanner

import (
	"context"
	"errors"
	"time"
)

// ErrStopped is returned by Sim.Feed when the scanner is not running.
var ErrStopped = errors.New("simulated scanner is not running")

// Sim is a simulated scanner: codes handed to Feed come out of Run as if
// scanned. It stands in for the hardware in the demo and in tests.
type Sim struct {
	in   chan string
	done chan struct{}
}

// NewSim returns a simulated scanner.
func NewSim() *Sim {
	return &Sim{in: make(chan string), done: make(chan struct{})}
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
