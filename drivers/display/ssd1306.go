package display

import (
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ssd1306"
)

// The addresses an SSD1306 module answers on, chosen by a jumper on its
// back.
const (
	Addr    uint16 = 0x3c // the usual one, and the default
	AltAddr uint16 = 0x3d
)

// RetryEvery is how often a display that cannot be reached is looked for
// again, at the next Show after it: often enough that one plugged in later
// shows within seconds, seldom enough that a kiosk without one spends
// nothing on it. It is shorter than a caller's usual period (5 s), so a
// caller calling a little early each time still tries at every call.
const RetryEvery = 3 * time.Second

// Refresh is how often a working display is set up again and redrawn
// whole. The SSD1306 is write-only over I²C and Show sends only what
// changed (nothing, when nothing did), so a module that lost power and came
// back would stay dark with State saying OK; this bounds how long.
const Refresh = time.Minute

// Options configure an SSD1306.
type Options struct {
	Addr    uint16 // Addr (the default, when 0) or AltAddr
	Rotated bool   // the module is mounted upside down: turn the picture 180°
}

// SSD1306 is an SSD1306 128x64 OLED module on an I²C bus.
//
// It never gives up on its display. When the module does not answer (or
// its bus cannot be opened), State is Absent, or Disconnected if it
// answered before, with the failing call; Show returns that error and
// tries again at most every RetryEvery, so a display plugged in later
// works without a restart. A write that fails while drawing makes State
// Fault; the next Show sets the module up again and redraws it whole, and
// State is OK again once that succeeds.
type SSD1306 struct {
	opts Options
	// open returns the bus, and what closes it when the SSD1306 owns it
	// (Open's buses; nil for New's).
	open func() (i2c.Bus, io.Closer, error)

	// busMu is held by Show and Close: one of them talks to the module at a
	// time, and State need not wait for them.
	busMu   sync.Mutex
	bus     i2c.Bus
	closer  io.Closer
	dev     *ssd1306.Dev // nil until the module is set up, and after a failure
	setUp   time.Time    // when dev was set up
	tried   time.Time    // the last attempt to set it up; zero: try at the next Show
	err     error        // why the last Show failed
	reached bool         // the module has answered since the SSD1306 was made
	closed  bool

	mu    sync.Mutex
	state State
}

var _ Device = (*SSD1306)(nil)

// New returns the SSD1306 module on bus, which the caller keeps and
// closes. It sets the module up at once, one I²C write; a module that does
// not answer is no error (State says so, and Show tries again). An error is
// an Options New cannot use.
func New(bus i2c.Bus, opts Options) (*SSD1306, error) {
	if bus == nil {
		return nil, errors.New("new ssd1306: nil bus")
	}
	return newSSD1306(func() (i2c.Bus, io.Closer, error) { return bus, nil, nil }, opts)
}

func newSSD1306(open func() (i2c.Bus, io.Closer, error), opts Options) (*SSD1306, error) {
	switch opts.Addr {
	case 0:
		opts.Addr = Addr
	case Addr, AltAddr:
	default:
		return nil, fmt.Errorf("address %#x: want %#x or %#x", opts.Addr, Addr, AltAddr)
	}
	d := &SSD1306{open: open, opts: opts}
	d.busMu.Lock()
	defer d.busMu.Unlock()
	d.connect() // a module not answering is in State; Show tries again
	return d, nil
}

// Show draws i: only what changed since the last Show, or the whole frame
// after the module was set up again. It returns nil once the frame is on
// the screen.
func (d *SSD1306) Show(i Info) error {
	img := Render(i)
	d.busMu.Lock()
	defer d.busMu.Unlock()
	if d.closed {
		return errors.New("show: display closed")
	}
	if d.dev != nil && time.Since(d.setUp) >= Refresh { // see Refresh
		d.dev = nil
		d.tried = time.Time{}
	}
	if d.dev == nil {
		if !d.tried.IsZero() && time.Since(d.tried) < RetryEvery {
			return d.err
		}
		if err := d.connect(); err != nil {
			return err
		}
	}
	if err := d.dev.Draw(img.Bounds(), img, image.Point{}); err != nil {
		// The module's memory is unknown now, and ssd1306.Dev counts the
		// frame as sent: set it up again, at the next Show, and send all.
		d.dev = nil
		d.tried = time.Time{}
		return d.fail(Fault, fmt.Errorf("draw: %w", err))
	}
	d.set(State{Condition: OK})
	d.err = nil
	return nil
}

// connect opens the bus if need be and sets the module up. d.busMu is held.
func (d *SSD1306) connect() error {
	d.tried = time.Now()
	gone := Absent
	if d.reached {
		gone = Disconnected
	}
	if d.bus == nil {
		bus, closer, err := d.open()
		if err != nil {
			return d.fail(gone, err)
		}
		d.bus, d.closer = bus, closer
	}
	opts := ssd1306.DefaultOpts
	opts.MirrorVertical, opts.MirrorHorizontal = d.opts.Rotated, d.opts.Rotated
	dev, err := ssd1306.NewI2C(at{d.bus, d.opts.Addr}, &opts)
	if err != nil {
		err = fmt.Errorf("set up ssd1306 at %#x on %s: %w", d.opts.Addr, d.bus, err)
		if d.closer != nil {
			// Open it again next time: the bus itself may be what went
			// away (a USB adapter).
			d.closer.Close()
			d.bus, d.closer = nil, nil
		}
		return d.fail(gone, err)
	}
	d.dev, d.setUp, d.reached = dev, time.Now(), true
	d.set(State{Condition: OK}) // it answers; Show says otherwise if a frame fails
	return nil
}

// fail records err as why Show fails, and the display's state. It returns
// err.
func (d *SSD1306) fail(c Condition, err error) error {
	d.err = err
	d.set(State{Condition: c, Reason: err.Error()})
	return err
}

func (d *SSD1306) set(s State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = s
}

// State says how the display is. It does not wait for Show.
func (d *SSD1306) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Close turns the display off, so a kiosk that stopped does not leave old
// figures on it, and closes the bus if Open opened it. Show fails after
// Close.
func (d *SSD1306) Close() error {
	d.busMu.Lock()
	defer d.busMu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.dev != nil {
		if err := d.dev.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("display off: %w", err))
		}
		d.dev = nil
	}
	if d.closer != nil {
		if err := d.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", d.bus, err))
		}
		d.bus, d.closer = nil, nil
	}
	return errors.Join(errs...)
}

// at sends every transaction to addr: ssd1306.NewI2C (v3.7.4) always
// talks to 0x3C, and a module strapped to 0x3D must work too.
type at struct {
	i2c.Bus
	addr uint16
}

func (b at) Tx(_ uint16, w, r []byte) error { return b.Bus.Tx(b.addr, w, r) }
