package display

import (
	"sync"

	"periph.io/x/devices/v3/ssd1306/image1bit"
)

// Sim is a simulated display: it keeps the last Info shown and the image
// Render made of it. It stands in for the hardware in the demo and in
// tests, which can also make it report any State.
type Sim struct {
	mu    sync.Mutex
	info  Info
	img   *image1bit.VerticalLSB
	shows int
	state State
}

var _ Device = (*Sim)(nil)

// NewSim returns a simulated display, OK, that has shown nothing.
func NewSim() *Sim { return &Sim{state: State{Condition: OK}} }

// Show renders i and keeps it, and its image.
func (s *Sim) Show(i Info) error {
	img := Render(i)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info, s.img = i, img
	s.shows++
	return nil
}

// Info returns the last Info shown, and how many times Show was called.
func (s *Sim) Info() (Info, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info, s.shows
}

// Image returns a copy of what the screen shows: the last Info's image, or
// nil before the first Show.
func (s *Sim) Image() *image1bit.VerticalLSB {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.img == nil {
		return nil
	}
	c := *s.img
	c.Pix = append([]byte(nil), s.img.Pix...)
	return &c
}

// State returns the state last set, OK until SetState.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// SetState makes the display report st, as the driver would when its
// module does not answer. Show goes on working.
func (s *Sim) SetState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
}

// Close does nothing: a simulated screen has nothing to turn off.
func (s *Sim) Close() error { return nil }
