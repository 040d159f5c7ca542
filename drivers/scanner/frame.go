package scanner

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// What every driver does with the characters its device sends, whatever
// the device: a framer gathers one scan's bytes and checks them, a dedup
// folds a code read twice into one scan, and health keeps the State that
// supervise updates as the device comes and goes.

// Limits of a scan.
const (
	// MaxScan is the longest scan taken, in bytes. A card's QR code holds a
	// few hundred characters (ARCHITECTURE.md §8); a longer scan is not a
	// card, and its bytes are not kept past this.
	MaxScan = 4096
	// DefaultDedup is how soon the same code read again is the same scan:
	// an imager in presentation mode reads the code held under it every
	// few hundred milliseconds. The window slides: a card left under the
	// scanner is one scan however long it stays.
	DefaultDedup = 1500 * time.Millisecond
	// DefaultRetry is how often a driver looks for its device while it is
	// absent or unplugged.
	DefaultRetry = 500 * time.Millisecond
)

// The reasons a scan is rejected (Scan.Rejected). They name what was
// wrong, never what was scanned.
const (
	RejectTooLong = "too long"     // over MaxScan bytes
	RejectControl = "control byte" // a byte below 0x20, or DEL: not a printed code
	RejectNotText = "not UTF-8"    // bytes that are not text
)

// framer gathers the bytes of one scan. The zero framer is empty.
type framer struct {
	buf  []byte
	n    int  // bytes added, including those past MaxScan
	ctrl bool // a control byte was added
}

// add adds one byte of the scan under way.
func (f *framer) add(b byte) {
	f.n++
	if b < 0x20 || b == 0x7f {
		f.ctrl = true
	}
	if f.n <= MaxScan {
		f.buf = append(f.buf, b)
	}
}

// empty reports whether no byte was added since the last finish.
func (f *framer) empty() bool { return f.n == 0 }

// finish ends the scan under way and returns it, with Rejected set if it
// cannot be a code; the framer is empty again. Trailing spaces are the
// scan's: Base45 can end in one.
func (f *framer) finish(at time.Time) Scan {
	s := Scan{At: at}
	switch {
	case f.n > MaxScan:
		s.Rejected = RejectTooLong
	case f.ctrl:
		s.Rejected = RejectControl
	case !utf8.Valid(f.buf):
		s.Rejected = RejectNotText
	default:
		s.Text = string(f.buf)
	}
	clear(f.buf) // the bytes are personal data
	f.buf, f.n, f.ctrl = f.buf[:0], 0, false
	return s
}

// dedup folds a code read again within its window into one scan.
type dedup struct {
	window time.Duration
	last   string
	at     time.Time
}

// repeat reports whether s is the scan before it read again within the
// window, and remembers s. A rejected scan is never a repeat.
func (d *dedup) repeat(s Scan) bool {
	again := s.Rejected == "" && d.last != "" && s.Text == d.last && s.At.Sub(d.at) < d.window
	d.last, d.at = s.Text, s.At
	if s.Rejected != "" {
		d.last = ""
	}
	return again
}

// send hands s to out, waiting as long as it takes: a scan is never
// dropped. It reports false if ctx ended first.
func send(ctx context.Context, out chan<- Scan, s Scan) bool {
	select {
	case out <- s:
		return true
	case <-ctx.Done():
		return false
	}
}

// health is a driver's State, safe for any goroutine.
type health struct {
	mu     sync.Mutex
	st     State
	opened bool // the device was open once: gone is Disconnected, not Absent
}

func (h *health) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.st.Condition == "" {
		return State{Condition: Absent}
	}
	return h.st
}

// ok records that the device is open and reading.
func (h *health) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened = true
	h.st = State{Condition: OK}
}

// failed records why the device stopped or could not be opened: a device
// that is not there is Absent until it was opened once and Disconnected
// after; any other error is a Fault.
func (h *health) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !gone(err):
		h.st = State{Condition: Fault, Reason: err.Error()}
	case h.opened:
		h.st = State{Condition: Disconnected, Reason: err.Error()}
	default:
		h.st = State{Condition: Absent, Reason: err.Error()}
	}
}

// gone reports whether err says the device is not there (never plugged in,
// or unplugged) rather than failing.
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) ||
		errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.EIO) || errors.Is(err, errHangup)
}

// errHangup is a session's error when its device hung up: the far end of
// a pty closed, or end of file on a device.
var errHangup = errors.New("device hung up")

// supervise runs session until ctx ends, again each time it returns:
// session opens the device, calls h.ok once it reads, and returns why it
// stopped. Between tries it waits retry. It returns nil when ctx ends;
// a device that fails is reported in h, and looked for again, never
// returned as an error: a scanner plugged back in works without a
// restart.
func supervise(ctx context.Context, h *health, retry time.Duration, session func(context.Context) error) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errHangup
		}
		h.failed(err)
		t.Reset(retry)
	}
}
