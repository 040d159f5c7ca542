package printer

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Sim is a simulated printer: it keeps the bytes of each receipt it
// prints. It stands in for the hardware in the demo and in tests, which
// can run its paper out or make it stop taking data.
type Sim struct {
	opts Options

	mu       sync.Mutex
	receipts [][]byte
	paperOut bool
	stuck    bool
	stalled  error // why the last receipt did not go through while stuck, until one does
}

var _ Watcher = (*Sim)(nil)

// NewSim returns a simulated printer laying receipts out with o, OK, with
// paper.
func NewSim(o Options) *Sim { return &Sim{opts: o} }

// Print renders r and keeps its bytes. With the paper out it keeps
// nothing and returns ErrPaperOut; stuck, it waits for ctx to end and
// returns ctx's error, as a printer that takes no data would.
func (s *Sim) Print(ctx context.Context, r Receipt) error {
	b, err := Render(r, s.opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	stuck := s.stuck
	s.mu.Unlock()
	if stuck {
		<-ctx.Done()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		if stuck && errors.Is(err, context.DeadlineExceeded) {
			s.stalled = fmt.Errorf("write sim: %w", err)
		}
		return err
	}
	if s.paperOut {
		return fmt.Errorf("sim printer: %w", ErrPaperOut)
	}
	s.receipts = append(s.receipts, b)
	s.stalled = nil
	return nil
}

// Receipts returns the bytes of each receipt printed so far, in order.
func (s *Sim) Receipts() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.receipts...)
}

// SetPaperOut runs the paper out (true) or puts a new roll in (false).
// State says so at once, as Run would on a real printer.
func (s *Sim) SetPaperOut(out bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paperOut = out
}

// SetStuck makes the printer stop taking data (true), or take it again.
func (s *Sim) SetStuck(stuck bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = stuck
}

// State is Fault "paper out" while the paper is out; a Fault too once a
// receipt's deadline passed while stuck, until a receipt prints, as a real
// printer's (which says nothing until a write to it times out); OK
// otherwise.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.paperOut:
		return State{Condition: Fault, Reason: ErrPaperOut.Error()}
	case s.stalled != nil:
		return State{Condition: Fault, Reason: s.stalled.Error()}
	}
	return State{Condition: OK}
}

// CanRender reports whether text prints in the simulated printer's code
// pages.
func (s *Sim) CanRender(text string) bool { return CanRender(text, s.opts) }

// Run waits for ctx to end: a simulated printer has nothing to watch.
func (s *Sim) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
