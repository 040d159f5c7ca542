package scanner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// The evdev driver (Evdev) reads a scanner in keyboard-wedge mode: a USB
// HID keyboard whose "keystrokes" are the code it read, ended by Enter (or
// keypad Enter, or Tab), or by Idle without a key. It reads the kernel's
// struct input_event records from the scanner's /dev/input/event* node
// (by path, by-id or a udev symlink), having grabbed it (EVIOCGRAB) so
// that no keystroke reaches the browser or a console, and decodes key
// codes into characters with the layout the scanner types in (keymap.go).
// A keyDecoder does the decoding, with no I/O, so tests and fuzzing feed
// it events; Run's goroutine owns the device, the decoder and the session
// loop; evemu.go reads and writes recordings.
//
// What it cannot read it rejects rather than guess: a key that types no
// character of the layout (a dead key, F1, Ctrl+key) and events the kernel
// lost (SYN_DROPPED) reject the scan they fall in (Scan.Rejected), so a
// code with a character missing never reaches the flow as a good scan.

// RejectLost is why a scan is rejected when input events were lost in it:
// the kernel's buffer overflowed (SYN_DROPPED; this process read too
// slowly). What is left of the code may be any part of it.
const RejectLost = "events lost"

// The ioctls of linux/input.h, _IOW('E', nr, int): the same numbers on
// the arm, arm64 and amd64 kernels.
const (
	eviocgrab     = 0x40044590 // EVIOCGRAB: this open file alone gets the events (1)
	eviocsclockid = 0x400445a0 // EVIOCSCLOCKID: the clock of the events' timestamps
)

// Evdev is a scanner in keyboard-wedge mode, read through the kernel's
// evdev interface.
type Evdev struct {
	src   Source
	h     health
	retry time.Duration // how often to look for the device: DefaultRetry, shorter in tests
}

var _ Device = (*Evdev)(nil)

// NewEvdev returns the evdev scanner s names (s.Kind == KindEvdev). It
// touches no hardware: Run opens the device. A zero Layout, Idle or
// Record is the default ("us", DefaultIdle, this program's record size).
func NewEvdev(s Source) *Evdev {
	s.Layout = cmp.Or(s.Layout, "us")
	s.Idle = cmp.Or(s.Idle, DefaultIdle)
	s.Record = cmp.Or(s.Record, nativeRecord)
	return &Evdev{src: s, retry: DefaultRetry}
}

// State says how the scanner is: Absent until its device was first
// opened, Disconnected once it went away, Fault when it cannot be opened
// or grabbed (Reason names the call and its error).
func (e *Evdev) State() State { return e.h.State() }

// Run reads the scanner and sends each scan on out until ctx ends, then
// returns nil. A device missing, unplugged or failing is reported in
// State and looked for again every DefaultRetry, never returned: the kiosk
// works on without it, and a scanner plugged back in works without a
// restart. Run returns an error only for a Source no device can fix (an
// unknown layout or record size).
func (e *Evdev) Run(ctx context.Context, out chan<- Scan) error {
	if _, ok := keymaps[e.src.Layout]; !ok || (e.src.Record != record32 && e.src.Record != record64) {
		err := fmt.Errorf("evdev scanner %s: layout %q, record %d: want one of %s, and 16 or 24",
			e.src.Path, e.src.Layout, e.src.Record, strings.Join(Layouts, ", "))
		e.h.failed(err)
		return err
	}
	// One dedup for every session: a card read again just after the
	// scanner was plugged back in is still the same scan.
	dd := &dedup{window: e.src.Dedup}
	return supervise(ctx, &e.h, e.retry, func(ctx context.Context) error {
		return e.session(ctx, out, dd)
	})
}

// session opens the device and reads it until ctx ends (nil) or the device
// fails (why). Each session starts with a new decoder: what a device held
// down before it was opened is unknown.
func (e *Evdev) session(ctx context.Context, out chan<- Scan, dd *dedup) error {
	path, record := e.src.Path, e.src.Record
	f, err := openEvdev(path, e.src.Grab)
	if err != nil {
		return err
	}
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	// A read waits in Go's poller, so a deadline ends it when ctx ends.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()

	d := newKeyDecoder(keymaps[e.src.Layout], e.src.Idle)
	defer d.discard() // a scan under way holds personal data
	deliver := func(s Scan) bool { return dd.repeat(s) || send(ctx, out, s) }
	buf := make([]byte, 512*record) // whole records: evdev refuses a read of less than one
	have := 0                       // bytes of a record read in part (a FIFO's writer may split one)

	// The first read does not wait. A device reads nothing yet, or what
	// was typed; a FIFO with no writer reads end of file, and is no
	// device that works.
	n, err := readNow(raw, buf)
	if err != nil && !errors.Is(err, errNoData) {
		return evdevReadError(path, err)
	}
	e.h.ok()
	for {
		// Scan.At is when the record was read (time.Now), not the kernel's
		// timestamp: on the flow's clock, so the latency from key to
		// screen can be measured. The timestamps tell keys apart (idle).
		at := time.Now()
		have += n
		whole := have - have%record
		for i := 0; i < whole; i += record {
			if s, ok := d.event(decodeRecord(buf[i:i+record]), at); ok && !deliver(s) {
				return nil
			}
		}
		have = copy(buf, buf[whole:have])

		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errNoData):
			// Idle since the last key: the scan under way is over.
			if s, ok := d.end(); ok && !deliver(s) {
				return nil
			}
		case err != nil:
			// The device went away. A scan it cut short is no scan, as
			// with the serial driver: there is no scanner left to scan
			// again with, and State says so.
			return evdevReadError(path, err)
		}
		var deadline time.Time // none: no scan under way
		if d.pending() {
			deadline = d.deadline()
		}
		n, err = readUntil(ctx, f, raw, buf[have:], deadline)
	}
}

// openEvdev opens the event device at path and, if grab, takes it for
// itself. It does every ioctl on the raw descriptor before os.NewFile
// hands it to Go's poller: a descriptor is non-blocking (O_NONBLOCK from
// open, or a FIFO would block open until a writer came), and File.Fd
// would make it blocking again.
func openEvdev(path string, grab bool) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := setUp(fd, path, grab); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// setUp grabs the device if grab, sets its clock, and checks it is one.
func setUp(fd int, path string, grab bool) error {
	if grab {
		// EBUSY: another program grabbed it; ENOTTY: not an input
		// device. Either way no key is read ungrabbed: it could reach
		// the browser or a console.
		if err := unix.IoctlSetInt(fd, eviocgrab, 1); err != nil {
			return fmt.Errorf("grab %s: %w", path, err)
		}
	}
	// Timestamps on the monotonic clock, not the wall clock: a Pi sets
	// its clock from the network after boot, and a step in the middle of
	// a scan would split it (idle). ENOTTY: not an input device (a FIFO,
	// grab=false, in tests), whose timestamps are whatever was written.
	if err := unix.IoctlSetPointerInt(fd, eviocsclockid, unix.CLOCK_MONOTONIC); err != nil && !errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("set clock of %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	// A regular file would be read again from its start each session,
	// its scans with it.
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFCHR && m != unix.S_IFIFO {
		return fmt.Errorf("open %s: %w", path, errNotDevice)
	}
	return nil
}

var errNotDevice = errors.New("not a character device or FIFO")

// errNoData says a read found nothing to read and did not wait.
var errNoData = errors.New("no data")

// readUntil reads what the device has, waiting until deadline (zero: no
// deadline) or ctx ends (ctx.Err()). It returns errNoData once deadline has
// passed with nothing read.
func readUntil(ctx context.Context, f *os.File, raw syscall.RawConn, p []byte, deadline time.Time) (int, error) {
	if err := f.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	// After setting the deadline: had ctx ended before, the AfterFunc's
	// deadline would be overwritten.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := f.Read(p)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return n, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The deadline passed. Had this goroutine only come late, keys would
	// be waiting, and a scan must not end before its keys were read.
	return readNow(raw, p)
}

// readNow reads what the descriptor has without waiting: errNoData if it
// has nothing, io.EOF at its end.
func readNow(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var err error
	if cerr := raw.Control(func(fd uintptr) {
		for {
			if n, err = unix.Read(int(fd), p); err != unix.EINTR {
				return
			}
		}
	}); cerr != nil {
		return 0, cerr
	}
	switch {
	case errors.Is(err, unix.EAGAIN):
		return 0, errNoData
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// evdevReadError says why reading path failed: end of file is a hang-up (a
// FIFO's writer closed it), ENODEV an unplugged device; supervise reports
// both as Disconnected.
func evdevReadError(path string, err error) error {
	if errors.Is(err, io.EOF) {
		err = errHangup
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("read %s: %w", path, err)
}

// keyDecoder turns a keyboard's input events into scans: the keys of a
// layout into the characters of a scan, Enter, keypad Enter and Tab (or a
// gap of idle between two keys) into its end. It does no I/O and reads no
// clock: it is given each event with the time it was read.
//
// It acts on a key going down (value 1). Autorepeat (2) types nothing: a
// scanner types each character once, and a key held long is the host's
// doing. A key going up (0) matters for the modifiers only: Shift (left or
// right), AltGr (right Alt), and Ctrl, Alt and Meta, with which a key
// types no character. CapsLock toggles when pressed and changes letters
// only, as on a PC. All of it starts afresh with each session, and after
// SYN_DROPPED.
type keyDecoder struct {
	km   *keymap
	idle time.Duration
	f    framer

	mods     modifiers // held down
	caps     bool      // CapsLock is on
	dropping bool      // after SYN_DROPPED, until SYN_REPORT
	started  bool      // a scan is under way: a key typed, or events lost
	lost     bool      // the scan under way lost events: rejected when it ends
	last     time.Duration
	lastAt   time.Time // the last key's timestamp, and when it was read
}

func newKeyDecoder(km *keymap, idle time.Duration) *keyDecoder {
	return &keyDecoder{km: km, idle: idle}
}

// modifiers are the modifier keys held down, a bit each.
type modifiers uint8

const (
	modLeftShift modifiers = 1 << iota
	modRightShift
	modAltGr
	modLeftCtrl
	modRightCtrl
	modLeftAlt
	modLeftMeta
	modRightMeta

	modShift   = modLeftShift | modRightShift
	modCommand = modLeftCtrl | modRightCtrl | modLeftAlt | modLeftMeta | modRightMeta // no character with these
)

var modifierKeys = [keyCodes]modifiers{
	keyLeftShift: modLeftShift, keyRightShift: modRightShift, keyRightAlt: modAltGr,
	keyLeftCtrl: modLeftCtrl, keyRightCtrl: modRightCtrl, keyLeftAlt: modLeftAlt,
	keyLeftMeta: modLeftMeta, keyRightMeta: modRightMeta,
}

// modifier returns the modifier key code is, or 0.
func modifier(code uint16) modifiers {
	if code >= keyCodes {
		return 0
	}
	return modifierKeys[code]
}

// event decodes ev, read at time at, and returns the scan it ended, if
// any.
func (d *keyDecoder) event(ev Event, at time.Time) (s Scan, ok bool) {
	if d.dropping {
		// The kernel's rule (Documentation/input/event-codes.rst):
		// after SYN_DROPPED, drop every event up to and including the
		// next SYN_REPORT.
		d.dropping = ev.Type != evSyn || ev.Code != synReport
		return Scan{}, false
	}
	switch {
	case ev.Type == evSyn && ev.Code == synDropped:
		d.drop(ev, at)
		return Scan{}, false
	case ev.Type != evKey: // SYN_REPORT, MSC_SCAN, LEDs, repeat settings
		return Scan{}, false
	case ev.Value == 0:
		d.mods &^= modifier(ev.Code)
		return Scan{}, false
	case ev.Value != 1:
		return Scan{}, false
	}
	// Keys further apart than idle are not one scan. Their timestamps
	// say so even when this process read them late, both at once.
	if d.started && ev.Time-d.last > d.idle {
		s, ok = d.finish()
	}
	d.last, d.lastAt = ev.Time, at
	switch code := ev.Code; {
	case modifier(code) != 0:
		d.mods |= modifier(code)
	case code == keyCapsLock:
		d.caps = !d.caps
	case code == keyNumLock || code == keyScrollLock:
		// Locks a scanner may press to set up its keypad: nothing typed.
	case code == keyEnter || code == keyKPEnter || code == keyTab:
		if !ok {
			s, ok = d.finish()
		}
	default:
		d.typeKey(code)
	}
	return s, ok
}

// typeKey adds the character key code types to the scan under way.
func (d *keyDecoder) typeKey(code uint16) {
	d.started = true
	r, ok := d.char(code)
	if !ok {
		// No character: the scan is rejected as if it held a control
		// byte, rather than taken with a character left out.
		d.f.add(0x1a) // SUB
		return
	}
	var b [utf8.UTFMax]byte
	for _, c := range b[:utf8.EncodeRune(b[:], r)] {
		d.f.add(c)
	}
}

// char returns the character key code types with the modifiers held.
func (d *keyDecoder) char(code uint16) (rune, bool) {
	if d.mods&modCommand != 0 {
		return 0, false
	}
	level := levelPlain
	if d.mods&modShift != 0 {
		level = levelShift
	}
	if d.caps && code < keyCodes && d.km.letter[code] {
		level = levelShift - level
	}
	if d.mods&modAltGr != 0 {
		if d.mods&modShift != 0 {
			return 0, false // the fourth level: no scanner's
		}
		level = levelAltGr
	}
	return d.km.char(code, level)
}

// drop starts dropping events after SYN_DROPPED. Which keys were lost, and
// which modifiers are held now, is unknown: the modifiers start afresh,
// and the scan the lost events were part of is rejected (RejectLost) when
// it ends. Rejected, not discarded: the person scanned something and is
// told it could not be read, rather than left waiting. It is the scan
// under way, or if none, the next one: the lost events may have been its
// beginning.
func (d *keyDecoder) drop(ev Event, at time.Time) {
	d.dropping = true
	d.mods, d.caps = 0, false
	d.started, d.lost = true, true
	d.last, d.lastAt = ev.Time, at
}

// pending reports whether a scan is under way: one that ends at deadline
// if no key comes.
func (d *keyDecoder) pending() bool { return d.started }

// deadline is when the scan under way ends if no key comes.
func (d *keyDecoder) deadline() time.Time { return d.lastAt.Add(d.idle) }

// end ends the scan under way (idle): it is over.
func (d *keyDecoder) end() (Scan, bool) { return d.finish() }

// discard ends the scan under way, if any, without a scan.
func (d *keyDecoder) discard() { d.finish() }

// finish ends the scan under way, if any, and returns it. Its time is its
// last key's.
func (d *keyDecoder) finish() (Scan, bool) {
	if !d.started {
		return Scan{}, false
	}
	s := d.f.finish(d.lastAt) // clears its bytes, even of a lost scan
	if d.lost {
		s = Scan{At: d.lastAt, Rejected: RejectLost}
	}
	d.started, d.lost = false, false
	return s, true
}
