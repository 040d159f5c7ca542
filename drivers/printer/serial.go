package printer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Serial is a printer on a serial line: an RS-232 port or adapter
// (/dev/ttyUSB0) or a USB virtual COM port (/dev/ttyACM0). It asks the
// printer's status with ESC/POS real-time requests, answered even while
// the printer prints: DLE EOT 1 (printer status: offline), DLE EOT 4 (roll
// paper sensor: near end, end) and, when offline, DLE EOT 2 (why: cover
// open, paper end, error).
//
// A printer that never answers (one without real-time status, a cable
// that carries no data back) prints without status. Once it has answered,
// silence means it is gone: switched off, or its cable pulled behind an
// adapter that is still there.
//
// The line is set up with golang.org/x/sys/unix's termios calls rather
// than go.bug.st/serial: that package writes with a blocking write(2) on a
// blocking descriptor, which nothing can interrupt, and a receipt's write
// must end with its context. Here the descriptor is non-blocking and in
// Go's poller, so a write to a printer that stopped taking data ends at
// its deadline.
type Serial struct {
	port
}

var _ Watcher = (*Serial)(nil)

// Line is how a serial line is set: speed and flow control. The rest is
// 8 data bits, no parity, one stop bit, raw.
type Line struct {
	Baud int  // bits per second; DefaultBaud when 0
	Flow Flow // FlowNone when ""
}

// DefaultBaud is the line speed serial printers ship with. A USB virtual
// COM port ignores it.
const DefaultBaud = 9600

// Flow is a serial line's flow control: how the printer says its buffer
// is full. It must be the one the printer is set to (its DIP switches or
// memory switches).
type Flow string

// The flow controls.
const (
	FlowNone    Flow = "none"    // none: a printer on USB, or one whose buffer is never outrun
	FlowXonXoff Flow = "xonxoff" // XOFF (DC3) and XON (DC1) from the printer
	FlowRTSCTS  Flow = "rtscts"  // the printer's busy line on the port's CTS
)

// bauds are the line speeds a serial source may name.
var bauds = []int{2400, 4800, 9600, 19200, 38400, 57600, 115200}

// DefaultReplyTimeout is how long a printer has to answer a status
// request: an Epson answers within milliseconds, even while printing.
const DefaultReplyTimeout = 500 * time.Millisecond

// NewSerial returns the printer on the serial device at path. It touches
// no hardware: Run and Print open the device, so a kiosk whose printer
// is off still starts, and reports the printer Absent.
func NewSerial(path string, l Line, o Options) *Serial {
	if l.Baud == 0 {
		l.Baud = DefaultBaud
	}
	if l.Flow == "" {
		l.Flow = FlowNone
	}
	t := &serialTransport{line: l, reply: DefaultReplyTimeout}
	return &Serial{port: newPort(path, t, o)}
}

// Print prints r: see Device.
func (d *Serial) Print(ctx context.Context, r Receipt) error { return d.print(ctx, r) }

// State says how the printer is.
func (d *Serial) State() State { return d.h.State() }

// CanRender reports whether text prints in this printer's code pages.
func (d *Serial) CanRender(text string) bool { return CanRender(text, d.opts) }

// Run checks the printer every DefaultPoll until ctx ends; it returns nil.
func (d *Serial) Run(ctx context.Context) error { return d.run(ctx) }

// serialTransport's fields are the port's: used only while holding busy.
type serialTransport struct {
	line     Line
	reply    time.Duration
	answered bool // the printer has answered a status request
}

func (t *serialTransport) open(path string) (*os.File, error) {
	// O_NONBLOCK: opening a line without carrier would wait for one.
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := configure(f, t.line); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// The bits of DLE EOT's answers (Epson, "DLE EOT": real-time status).
const (
	dle, eot = 0x10, 0x04

	statusFixedMask = 0x93 // bits 0, 1, 4 and 7 are fixed in every answer:
	statusFixed     = 0x12 // 1 and 4 set, 0 and 7 clear

	printerOffline   = 0x08 // DLE EOT 1: offline
	offlineCoverOpen = 0x04 // DLE EOT 2: cover open
	offlinePaperEnd  = 0x20 // DLE EOT 2: printing stopped at paper end
	paperNearEnd     = 0x0c // DLE EOT 4: roll paper near-end sensor
	paperEnd         = 0x60 // DLE EOT 4: roll paper end sensor
)

func (t *serialTransport) status(ctx context.Context, f *os.File, sent int) (string, error) {
	// What was just written goes out first, at ten bits a byte.
	wait := t.reply + time.Duration(sent)*10*time.Second/time.Duration(t.line.Baud)
	s1, err := t.ask(ctx, f, 1, wait)
	if errors.Is(err, errNoReply) && !t.answered {
		return "", nil // a printer without real-time status: print without
	}
	if err != nil {
		return "", err
	}
	t.answered = true
	s4, err := t.ask(ctx, f, 4, t.reply)
	if err != nil {
		return "", err
	}
	if s4&paperEnd == paperEnd {
		return "", ErrPaperOut
	}
	if s1&printerOffline != 0 {
		s2, err := t.ask(ctx, f, 2, t.reply)
		switch {
		case err != nil:
			return "", err
		case s2&offlineCoverOpen != 0:
			return "", ErrCoverOpen
		case s2&offlinePaperEnd != 0:
			return "", ErrPaperOut
		}
		return "", ErrOffline
	}
	if s4&paperNearEnd == paperNearEnd {
		return reasonPaperLow, nil
	}
	return "", nil
}

// ask sends DLE EOT n and returns the printer's answer: the first byte
// shaped like one, within wait. What arrived before the question is
// dropped: a late answer to an earlier one.
func (t *serialTransport) ask(ctx context.Context, f *os.File, n byte, wait time.Duration) (byte, error) {
	if err := flushInput(f); err != nil {
		return 0, fmt.Errorf("flush input %s: %w", f.Name(), err)
	}
	if _, err := write(ctx, f, []byte{dle, eot, n}); err != nil {
		return 0, err
	}
	dl := time.Now().Add(wait)
	var b [1]byte
	for {
		_, err := read(ctx, f, b[:], dl)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, fmt.Errorf("DLE EOT %d on %s: %w within %v", n, f.Name(), errNoReply, wait)
		case err != nil:
			return 0, err
		case b[0]&statusFixedMask == statusFixed:
			return b[0], nil
		}
	}
}

// discard drops the output not yet sent: closing a serial line waits for
// it to drain, for up to thirty seconds.
func (t *serialTransport) discard(f *os.File) { _ = flushOutput(f) }
