package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// Serial is a scanner in USB CDC-ACM mode ("USB serial emulation",
// "USB COM port" in the scanners' manuals): the kernel's cdc_acm driver
// makes it a tty, /dev/ttyACM*, and it writes each code it decodes as
// bytes followed by a terminator (CR, LF, CR LF or tab as set up on the
// scanner, or none). A scanner on an RS-232 adapter (/dev/ttyUSB*) reads
// the same way at its own line speed (Source.Baud).
//
// Run opens the port in raw mode (go.bug.st/serial: no echo, no line
// editing, no CR/LF translation, 8N1) and owns it until it returns; it
// opens the port again each time it fails, so a scanner unplugged and
// plugged back in works without a restart. Its health is in State.
// Run's goroutine reads the port; the only other that touches it is the
// one context.AfterFunc starts when ctx ends, to close the port under a
// blocked Read.
type Serial struct {
	src   Source
	retry time.Duration // how often to look for the device while it is missing
	h     health
}

var _ Device = (*Serial)(nil)

// NewSerial returns the serial scanner src names, as ParseSource makes it
// (a zero Idle or Baud takes its default; an empty Term leaves only Idle
// to end a scan). It touches no hardware: Run opens the port.
func NewSerial(src Source) *Serial {
	if src.Idle <= 0 {
		src.Idle = DefaultIdle
	}
	if src.Baud <= 0 {
		src.Baud = DefaultBaud
	}
	return &Serial{src: src, retry: DefaultRetry}
}

// State says how the scanner is: Absent until its port opened once,
// OK while it is open, Disconnected once it went away, Fault when it is
// there but cannot be read (Reason says why).
func (s *Serial) State() State { return s.h.State() }

// Run sends each scan on out until ctx ends, and returns nil then. A port
// that is missing or failing never ends Run: it is reported in State and
// opened again every half a second (DefaultRetry). Call it once.
func (s *Serial) Run(ctx context.Context, out chan<- Scan) error {
	d := dedup{window: s.src.Dedup} // across sessions: a scanner replugged may send its last code again
	return supervise(ctx, &s.h, s.retry, func(ctx context.Context) error {
		return s.session(ctx, out, &d)
	})
}

// session opens the port and reads scans from it until the port fails
// (the error) or ctx ends (nil).
func (s *Serial) session(ctx context.Context, out chan<- Scan, d *dedup) error {
	port, err := serial.Open(s.src.Path, &serial.Mode{
		BaudRate: s.src.Baud,
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	})
	if err != nil {
		return openError(s.src.Path, err)
	}
	// Closing the port is the one way to end a Read blocked on it: when
	// ctx ends, Close from another goroutine makes that Read return.
	stop := context.AfterFunc(ctx, func() { port.Close() })
	defer func() {
		stop()
		port.Close()
	}()
	s.h.ok()

	var (
		f       framer
		buf     = make([]byte, 512)
		last    time.Time // when the last byte of the scan under way was read
		waiting bool      // a scan is under way: Read times out after Idle
	)
	defer func() {
		// A scan cut short (unplugged, or the kiosk stopping) is not a
		// code: drop it, but leave none of its bytes in memory.
		f.finish(time.Time{})
		clear(buf)
	}()
	// emit hands a finished scan to out unless it repeats the one before;
	// it reports false when ctx ended first.
	emit := func(sc Scan) bool { return d.repeat(sc) || send(ctx, out, sc) }
	for {
		n, err := port.Read(buf)
		at := time.Now()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return readError(s.src.Path, err)
		}
		if n == 0 { // Idle passed without a byte: the scan under way is over
			if !f.empty() && !emit(f.finish(last)) {
				return nil
			}
		}
		for _, b := range buf[:n] {
			if strings.IndexByte(s.src.Term, b) < 0 {
				f.add(b)
				continue
			}
			// A terminator ends the scan; a second one (the LF of CR LF)
			// ends nothing.
			if !f.empty() && !emit(f.finish(at)) {
				return nil
			}
		}
		clear(buf[:n])
		if n > 0 {
			last = at
		}
		if busy := !f.empty(); busy != waiting {
			timeout := serial.NoTimeout
			if busy {
				timeout = s.src.Idle
			}
			if err := port.SetReadTimeout(timeout); err != nil {
				return fmt.Errorf("set read timeout on %s: %w", s.src.Path, err)
			}
			waiting = busy
		}
	}
}

// openError says why the port at path did not open, in words an operator
// can act on. go.bug.st/serial turns some errnos into its own PortError,
// which wraps nothing: they are wrapped again here so that health tells a
// scanner that is missing from one that is failing.
func openError(path string, err error) error {
	var pe *serial.PortError
	if !errors.As(err, &pe) {
		return fmt.Errorf("open %s: %w", path, err) // ENOENT when unplugged
	}
	switch pe.Code() {
	case serial.PermissionDenied:
		return fmt.Errorf("open %s: %w: the kiosk's group has no access to the port; "+
			"install systemd/udev/70-kiosk-scanner.rules (GROUP=\"kiosk\", MODE=\"0660\") with the scanner's VID:PID, "+
			"then udevadm trigger or replug it", path, fs.ErrPermission)
	case serial.PortBusy:
		return fmt.Errorf("open %s: %w: another program holds the port (ModemManager? see ID_MM_DEVICE_IGNORE in the udev rules)",
			path, syscall.EBUSY)
	}
	return fmt.Errorf("open %s: %w", path, pe) // e.g. not a tty
}

// readError says why reading the port failed. The PortError "closed" of
// go.bug.st/serial is the end of file a tty reads once it hung up: the
// scanner was unplugged.
func readError(path string, err error) error {
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
		err = errHangup
	}
	return fmt.Errorf("read %s: %w", path, err) // EIO, ENODEV: unplugged too
}
